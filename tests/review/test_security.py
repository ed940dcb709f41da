"""Host, token and origin checks, headers, and bind rules of the review app."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from beholder.review.app import create_app
from beholder.review.security import ReviewConfigError, check_bind, is_loopback

TOKEN = "s3cret-token"


@pytest.fixture
def open_client(run_dir):
    with TestClient(create_app(run_dir), base_url="http://127.0.0.1:8765") as client:
        yield client


@pytest.fixture
def token_client(run_dir):
    app = create_app(run_dir, token=TOKEN)
    with TestClient(app, base_url="http://192.168.1.20:8765") as client:
        yield client


@pytest.mark.parametrize(
    "host", ["127.0.0.1:8765", "localhost:8765", "[::1]:8765", "127.0.0.1"]
)
def test_loopback_hosts_are_served(open_client, host):
    response = open_client.get("/api/health", headers={"Host": host})

    assert response.status_code == 200


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8765", "10.0.0.5:8765"])
def test_other_hosts_are_rejected_without_token(open_client, host):
    response = open_client.get("/api/health", headers={"Host": host})

    assert response.status_code == 400
    assert "not a loopback name" in response.json()["detail"]


def test_token_is_required(token_client):
    missing = token_client.get("/api/health")
    wrong = token_client.get("/api/health", headers={"Authorization": "Bearer nope"})

    assert missing.status_code == 401
    assert wrong.status_code == 401
    assert "token" in missing.json()["detail"]
    assert token_client.get("/").status_code == 401
    assert token_client.get("/api/images/0/thumb").status_code == 401


def test_token_headers_are_accepted(token_client):
    bearer = token_client.get(
        "/api/health", headers={"Authorization": f"Bearer {TOKEN}"}
    )
    custom = token_client.get("/api/health", headers={"X-Beholder-Token": TOKEN})

    assert bearer.status_code == 200
    assert custom.status_code == 200


def test_query_token_sets_cookie_and_redirects(token_client):
    response = token_client.get(
        f"/queues/random?seed=3&token={TOKEN}", follow_redirects=False
    )

    assert response.status_code == 303
    assert response.headers["location"] == "/queues/random?seed=3"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"beholder_token={TOKEN}")
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    token_client.cookies.set("beholder_token", TOKEN)
    assert token_client.get("/queues/random?seed=3").status_code == 200
    body = {"image_id": 0, "action": "keep", "reviewer": "ana"}
    assert token_client.post("/api/decisions", json=body).status_code == 201


def test_query_token_does_not_authorise_posts(token_client):
    body = {"image_id": 0, "action": "keep", "reviewer": "ana"}

    response = token_client.post(f"/api/decisions?token={TOKEN}", json=body)

    assert response.status_code == 401


def test_cross_origin_posts_are_rejected(open_client):
    body = {"image_id": 0, "action": "keep", "reviewer": "ana"}

    foreign = open_client.post(
        "/api/decisions", json=body, headers={"Origin": "http://evil.example"}
    )
    same = open_client.post(
        "/api/decisions", json=body, headers={"Origin": "http://127.0.0.1:8765"}
    )

    assert foreign.status_code == 403
    assert same.status_code == 201
    assert len(open_client.get("/api/decisions").json()["decisions"]) == 1


def test_security_headers_on_every_response(open_client):
    for path in ("/", "/api/health", "/api/images/0/thumb", "/static/app.css"):
        headers = open_client.get(path).headers
        assert "script-src 'self'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["cross-origin-resource-policy"] == "same-origin"


@pytest.mark.parametrize(
    "path",
    [
        "/api/images/..%2F..%2Fetc%2Fpasswd/thumb",
        "/api/images/0%2F..%2F..%2Fbeholder.db/thumb",
        "/static/../beholder.db",
        "/static/%2e%2e/%2e%2e/run.json",
    ],
)
def test_paths_cannot_reach_files(open_client, path):
    response = open_client.get(path)

    assert response.status_code in (404, 422)
    assert b"SQLite" not in response.content
    assert b"beholder_version" not in response.content


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("192.168.1.20", False),
        ("example.com", False),
    ],
)
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback


def test_binding_beyond_loopback_needs_token():
    with pytest.raises(ReviewConfigError, match="--token"):
        check_bind("0.0.0.0", None)
    check_bind("0.0.0.0", TOKEN)
    check_bind("127.0.0.1", None)

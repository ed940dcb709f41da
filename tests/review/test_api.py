"""The JSON API and HTML pages of the review app, through Starlette's TestClient."""

from __future__ import annotations

import io
import json

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from beholder.review.app import create_app
from beholder.store import RunStore

from .conftest import NASTY_FILE, NASTY_LABEL


@pytest.fixture
def client(run_dir):
    with TestClient(create_app(run_dir), base_url="http://127.0.0.1") as client:
        yield client


@pytest.fixture
def tables(run_dir):
    store = RunStore.open(run_dir)
    images = store.read_table("images").set_index("image_id", drop=False)
    issues = store.read_table("label_issues").set_index("image_id", drop=False)
    pairs = store.read_table("class_pairs")
    return images, issues, pairs


def decide(client, image_id, action, reviewer="ana", **extra):
    body = {"image_id": image_id, "action": action, "reviewer": reviewer, **extra}
    return client.post("/api/decisions", json=body)


def test_queue_list_has_every_kind(client, tables):
    _, _, pairs = tables

    queues = {q["queue_id"]: q for q in client.get("/api/queues").json()["queues"]}

    assert "issues" in queues
    assert "random" in queues
    assert "relabel" in queues
    assert queues["relabel"]["n_items"] == 0
    assert {f"pair-{i}" for i in range(len(pairs))} <= set(queues)


def test_issue_queue_follows_rank(client, tables):
    _, issues, _ = tables

    items = client.get("/api/queues/issues").json()["items"]

    flagged = issues[issues["is_label_issue"]].sort_values("rank")
    assert [item["image_id"] for item in items] == flagged["image_id"].tolist()
    assert all("model suggests" in item["reason"] for item in items)


def test_pair_queue_holds_both_directions(client, tables):
    images, _, pairs = tables
    a, b = pairs.loc[0, "class_a"], pairs.loc[0, "class_b"]

    queue = client.get("/api/queues/pair-0").json()

    ids = [item["image_id"] for item in queue["items"]]
    a_as_b = images[(images["label"] == a) & (images["predicted"] == b)]
    b_as_a = images[(images["label"] == b) & (images["predicted"] == a)]
    assert sorted(ids) == sorted(
        a_as_b["image_id"].tolist() + b_as_a["image_id"].tolist()
    )
    n_first = len(a_as_b)
    assert all(images.at[i, "label"] == a for i in ids[:n_first])
    assert all(images.at[i, "label"] == b for i in ids[n_first:])
    assert queue["n_items"] == pairs.loc[0, "n_a_as_b"] + pairs.loc[0, "n_b_as_a"]


def test_random_queue_is_seeded(client):
    first = client.get("/api/queues/random?seed=7&n=10").json()
    again = client.get("/api/queues/random?seed=7&n=10").json()
    other = client.get("/api/queues/random?seed=8&n=10").json()

    ids = [item["image_id"] for item in first["items"]]
    assert ids == [item["image_id"] for item in again["items"]]
    assert ids != [item["image_id"] for item in other["items"]]
    assert len(set(ids)) == 10
    assert first["params"] == {"seed": 7, "n": 10}
    assert client.get("/api/queues/random?n=0").status_code == 422
    assert client.get("/api/queues/nope").status_code == 404


def test_image_detail_shows_evidence(client, tables):
    images, issues, _ = tables
    image_id = int(
        issues[issues["is_label_issue"]].sort_values("rank").iloc[0]["image_id"]
    )

    record = client.get(f"/api/images/{image_id}").json()

    assert record["given"] == images.at[image_id, "label"]
    assert record["predicted"] == images.at[image_id, "predicted"]
    assert record["issue"]["suggested"] == issues.at[image_id, "suggested"]
    assert record["issue"]["rank"] == issues.at[image_id, "rank"]
    assert len(record["probabilities"]) == 4
    assert record["probabilities"][0]["label"] == images.at[image_id, "predicted"]
    neighbour_ids = [n["image_id"] for n in record["neighbours"]]
    assert neighbour_ids == list(issues.at[image_id, "disagreeing_neighbours"])[:8]
    for neighbour in record["neighbours"]:
        assert neighbour["label"] != record["given"]
    for example in record["examples"]["given"]:
        assert images.at[example, "label"] == record["given"]
        assert images.at[example, "predicted"] == record["given"]
    assert record["current"] is None


def test_blind_detail_hides_label_and_file(client):
    response = client.get("/api/images/3?blind=1&reviewer=ana")

    assert response.json() == {
        "image_id": 3,
        "blind": True,
        "answer": None,
        "answered": False,
    }
    queue = client.get("/api/queues/issues?blind=1").json()
    assert all(set(item) == {"image_id"} for item in queue["items"])
    assert "suggests" not in json.dumps(queue)


def test_relabel_then_detail_shows_it(client, tables):
    images, _, _ = tables
    given = images.at[5, "label"]
    new = next(name for name in ("three", "five", "eight") if name != given)

    response = decide(client, 5, "relabel", label=new, note="clearly a digit")

    assert response.status_code == 201
    row = response.json()["decision"]
    assert row["old_label"] == given
    assert row["new_label"] == new
    assert row["note"] == "clearly a digit"
    record = client.get("/api/images/5").json()
    assert record["label"] == new
    assert record["current"]["decision_id"] == row["decision_id"]
    assert [h["decision_id"] for h in record["history"]] == [row["decision_id"]]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"image_id": 999, "action": "keep"}, 404, "image 999 is not in this run"),
        ({"image_id": 1, "action": "relabel"}, 422, "needs 'label'"),
        (
            {"image_id": 1, "action": "relabel", "label": "cat"},
            422,
            "'cat' is not a class",
        ),
        ({"image_id": 1, "action": "keep", "label": "five"}, 422, "only for action"),
        ({"image_id": 1, "action": "burn"}, 422, "action:"),
        ({"image_id": -1, "action": "keep"}, 422, "image_id:"),
        ({"image_id": 1, "action": "keep", "path": "/etc/passwd"}, 422, "path:"),
    ],
)
def test_invalid_decisions_get_clear_errors(client, body, status, message):
    response = client.post("/api/decisions", json={"reviewer": "ana", **body})

    assert response.status_code == status
    assert message in response.json()["detail"]
    assert client.get("/api/decisions").json()["decisions"] == []


def test_missing_reviewer_is_rejected(client):
    response = client.post("/api/decisions", json={"image_id": 1, "action": "keep"})

    assert response.status_code == 422
    assert response.json()["detail"].startswith("reviewer:")


def test_non_json_body_is_rejected(client):
    body = json.dumps({"image_id": 1, "action": "keep", "reviewer": "ana"})

    response = client.post(
        "/api/decisions", content=body, headers={"Content-Type": "text/plain"}
    )

    assert response.status_code == 422
    assert client.get("/api/decisions").json()["decisions"] == []


def test_replayed_request_id_writes_once(client):
    first = decide(client, 2, "keep", request_id="tab-1-17")
    again = decide(client, 2, "keep", request_id="tab-1-17")
    clash = decide(client, 3, "keep", request_id="tab-1-17")

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json() == first.json()
    assert clash.status_code == 409
    assert len(client.get("/api/decisions").json()["decisions"]) == 1


def test_undo_reverts_and_reports(client):
    decide(client, 4, "remove")
    decide(client, 6, "ambiguous")

    undo = client.post("/api/undo", json={"reviewer": "ana"})

    assert undo.status_code == 201
    assert undo.json()["undone"]["image_id"] == 6
    assert client.get("/api/images/6").json()["current"] is None
    assert client.get("/api/images/4").json()["current"]["action"] == "remove"
    client.post("/api/undo", json={"reviewer": "ana"})
    nothing = client.post("/api/undo", json={"reviewer": "ana"})
    assert nothing.status_code == 409
    assert "no decision left" in nothing.json()["detail"]
    missing = client.post("/api/undo", json={"reviewer": "ana", "decision_id": 99})
    assert missing.status_code == 404


def test_blind_answers_feed_relabel_and_agreement(client, tables):
    images, _, _ = tables
    agreeing = int(images[images["label"] == images["predicted"]].index[0])
    disagreeing = int(images[images["label"] == images["predicted"]].index[1])
    given = images.at[disagreeing, "label"]
    other = next(name for name in ("three", "five", "eight") if name != given)

    for image_id, label in (
        (agreeing, images.at[agreeing, "label"]),
        (disagreeing, other),
    ):
        body = {"image_id": image_id, "label": label, "reviewer": "ana"}
        assert client.post("/api/blind", json=body).status_code == 201
    body = {"image_id": agreeing, "label": None, "reviewer": "ben"}
    assert client.post("/api/blind", json=body).status_code == 201

    relabel = client.get("/api/queues/relabel").json()
    # The "can't tell" answer (latest for `agreeing`) also counts as disagreeing.
    assert [item["image_id"] for item in relabel["items"]] == [disagreeing, agreeing]
    stats = client.get("/api/agreement").json()
    assert stats["overall"]["n_answers"] == 3
    assert stats["overall"]["n_cant_tell"] == 1
    assert stats["overall"]["person_given"] == {"count": 1, "rate": 0.5}
    assert stats["overall"]["model_given"] == {"count": 2, "rate": 1.0}
    pair = {row["class_a"] for row in stats["per_pair"]} | {
        row["class_b"] for row in stats["per_pair"]
    }
    assert {given, other} <= pair
    blind = client.get(f"/api/images/{disagreeing}?blind=1&reviewer=ana").json()
    assert blind["answer"] == other

    decide(client, disagreeing, "keep")
    relabel = client.get("/api/queues/relabel").json()
    assert [item["image_id"] for item in relabel["items"]] == [agreeing]


def test_thumbnail_is_small_jpeg_cached_on_disk(client, run_dir):
    response = client.get("/api/images/1/thumb?size=384")

    assert response.status_code == 200
    assert response.headers["content-type"] == "image/jpeg"
    image = Image.open(io.BytesIO(response.content))
    assert image.format == "JPEG"
    assert max(image.size) <= 384
    assert list((run_dir / "thumbs" / "384").rglob("*.jpg"))
    small = Image.open(io.BytesIO(client.get("/api/images/1/thumb?size=96").content))
    assert max(small.size) <= 96
    assert client.get("/api/images/1/thumb?size=5000").status_code == 422
    assert client.get("/api/images/999/thumb").status_code == 404


def test_missing_image_file_gives_404(tmp_path):
    from beholder.review.synthetic import write_synthetic_run

    run = write_synthetic_run(tmp_path / "bare", n_images=8, with_images=False)
    with TestClient(create_app(run), base_url="http://127.0.0.1") as client:
        response = client.get("/api/images/0/thumb")

    assert response.status_code == 404
    assert "could not be decoded" in response.json()["detail"]


def test_export_endpoint_writes_export(client, run_dir):
    decide(client, 0, "remove")

    response = client.post("/api/export", json={"mode": "links"})

    assert response.status_code == 200
    assert response.json()["n_removed"] == 1
    assert (run_dir / "export" / "manifest.csv").is_file()
    assert client.post("/api/export", json={"mode": "zip"}).status_code == 422


@pytest.mark.parametrize(
    "path",
    ["/", "/queues/issues", "/queues/pair-0", "/queues/random?seed=3&n=5",
     "/review/issues", "/review/random?mode=blind", "/agreement", "/journal"],
)  # fmt: skip
def test_pages_render(client, path):
    decide(client, 0, "keep", note="fine")

    response = client.get(path)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


def test_unknown_pages_are_404(client):
    assert client.get("/queues/nope").status_code == 404
    assert client.get("/tables/bias_slices").status_code == 404
    assert client.get("/review/issues?mode=sideways").status_code == 422


def test_pages_escape_labels_and_file_names(nasty_run_dir):
    with TestClient(create_app(nasty_run_dir), base_url="http://127.0.0.1") as client:
        # Image 0 has the odd file name; the journal page shows it.
        decide(client, 0, "relabel", label=NASTY_LABEL, note="<b>bold</b> & 'q'")
        blind = {"image_id": 1, "label": NASTY_LABEL, "reviewer": "<i>r</i>"}
        client.post("/api/blind", json=blind)
        pages = [
            client.get(path).text
            for path in (
                "/",
                "/queues/issues",
                "/queues/pair-0",
                "/queues/random?n=24",
                "/review/issues",
                "/agreement",
                "/journal",
            )
        ]

    for page in pages:
        assert NASTY_LABEL not in page
        assert "<img src=x" not in page
        assert "<b>bold</b>" not in page
        assert "<i>r</i>" not in page
    joined = "\n".join(pages)
    assert "&lt;script&gt;alert(&#34;label&#34;)&lt;/script&gt;" in joined
    assert "&lt;img src=x onerror=alert(1)&gt;" in joined
    assert "\\u003cscript\\u003e" in pages[4]  # the review page's JSON boot block
    assert NASTY_FILE not in joined

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beholder.findings import LABEL_ISSUE_METHODS, find_label_issues

REQUIRED_COLUMNS = {
    "label_issue_score",
    "is_label_issue",
    "suggested_label",
    "self_confidence",
    "normalized_margin",
    "rank",
    "knn_agreement",
    "disagreeing_neighbours",
    "confident_label",
    "class_pair_rate",
}


def make_problem(seed, n_per_class=30, n_classes=3, n_flipped=6):
    """Return embeddings in clusters, probabilities that favour the true class,
    noisy labels and the flipped mask."""
    rng = np.random.default_rng(seed)
    true = np.repeat(np.arange(n_classes), n_per_class)
    centres = rng.normal(size=(n_classes, 16)) * 4
    embeddings = centres[true] + rng.normal(size=(len(true), 16))
    logits = rng.normal(size=(len(true), n_classes))
    logits[np.arange(len(true)), true] += 3.0
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = true.copy()
    flipped = rng.choice(len(true), n_flipped, replace=False)
    labels[flipped] = (true[flipped] + 1) % n_classes
    return embeddings, probabilities, labels, labels != true


@pytest.mark.parametrize("method", LABEL_ISSUE_METHODS)
def test_columns_and_ranges(method):
    embeddings, probabilities, labels, _ = make_problem(0)
    frame = find_label_issues(probabilities, labels, embeddings=embeddings, method=method)
    assert REQUIRED_COLUMNS <= set(frame.columns)
    assert len(frame) == len(labels)
    assert frame["label_issue_score"].between(0, 1).all()
    assert sorted(frame["rank"]) == list(range(1, len(labels) + 1))
    assert frame.attrs["method"] == method


@pytest.mark.parametrize("method", LABEL_ISSUE_METHODS)
def test_rank_follows_score(method):
    embeddings, probabilities, labels, _ = make_problem(1)
    frame = find_label_issues(probabilities, labels, embeddings=embeddings, method=method)
    by_rank = frame.sort_values("rank")["label_issue_score"].to_numpy()
    assert (np.diff(by_rank) <= 0).all()


@pytest.mark.parametrize("method", LABEL_ISSUE_METHODS)
def test_planted_errors_ranked_first(method):
    embeddings, probabilities, labels, flipped = make_problem(2)
    frame = find_label_issues(probabilities, labels, embeddings=embeddings, method=method)
    top = frame.nsmallest(flipped.sum(), "rank").index
    assert flipped[top].mean() >= 0.8


def test_default_method_depends_on_embeddings():
    embeddings, probabilities, labels, _ = make_problem(3)
    assert find_label_issues(probabilities, labels).attrs["method"] == (
        "confident_learning"
    )
    with_embeddings = find_label_issues(probabilities, labels, embeddings=embeddings)
    assert with_embeddings.attrs["method"] == "ensemble"


def test_without_embeddings_knn_columns_are_empty():
    _, probabilities, labels, _ = make_problem(3)
    frame = find_label_issues(probabilities, labels)
    assert frame["knn_agreement"].isna().all()
    assert (frame["knn_suggested_label"] == -1).all()
    assert frame["disagreeing_neighbours"].map(len).eq(0).all()


def test_disagreeing_neighbours_have_other_labels():
    embeddings, probabilities, labels, _ = make_problem(4)
    frame = find_label_issues(probabilities, labels, embeddings=embeddings)
    for image, neighbours in enumerate(frame["disagreeing_neighbours"]):
        assert all(labels[n] != labels[image] for n in neighbours)


def test_suggested_label_differs_from_given():
    embeddings, probabilities, labels, _ = make_problem(5)
    frame = find_label_issues(probabilities, labels, embeddings=embeddings)
    assert (frame["suggested_label"] != labels).all()


def test_knn_method_needs_embeddings():
    _, probabilities, labels, _ = make_problem(6)
    with pytest.raises(ValueError, match="needs embeddings"):
        find_label_issues(probabilities, labels, method="knn")


def test_unknown_method_rejected():
    _, probabilities, labels, _ = make_problem(6)
    with pytest.raises(ValueError, match="method must be one of"):
        find_label_issues(probabilities, labels, method="vote")


def test_embedding_rows_must_match():
    embeddings, probabilities, labels, _ = make_problem(6)
    with pytest.raises(ValueError, match="one row per image"):
        find_label_issues(probabilities, labels, embeddings=embeddings[:-1])


def test_kept_confident_learning_behaviour():
    probabilities = np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    labels = np.array([0, 0, 1])
    frame = find_label_issues(probabilities, labels)
    np.testing.assert_allclose(frame["self_confidence"], [0.8, 0.3, 0.4])
    np.testing.assert_allclose(frame["normalized_margin"], [0.6, -0.4, -0.2])
    np.testing.assert_allclose(frame["label_issue_score"], [0.2, 0.7, 0.6])
    np.testing.assert_array_equal(frame["rank"], [3, 1, 2])


@settings(max_examples=10, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    method=st.sampled_from(LABEL_ISSUE_METHODS),
    data=st.data(),
)
def test_scores_unchanged_by_class_order(seed, method, data):
    embeddings, probabilities, labels, _ = make_problem(seed, n_per_class=12)
    permutation = np.array(data.draw(st.permutations(range(3))))
    new_index = np.argsort(permutation)
    original = find_label_issues(
        probabilities, labels, embeddings=embeddings, method=method
    )
    permuted = find_label_issues(
        probabilities[:, permutation],
        new_index[labels],
        embeddings=embeddings,
        method=method,
    )
    np.testing.assert_allclose(
        permuted["label_issue_score"], original["label_issue_score"], atol=1e-12
    )
    np.testing.assert_allclose(permuted["knn_agreement"], original["knn_agreement"])


@settings(max_examples=10, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    method=st.sampled_from(LABEL_ISSUE_METHODS),
    copied=st.integers(0, 35),
)
def test_copy_leaves_scores_unchanged(seed, method, copied):
    embeddings, probabilities, labels, _ = make_problem(seed, n_per_class=12)
    original = find_label_issues(
        probabilities, labels, embeddings=embeddings, method=method
    )
    with_copy = find_label_issues(
        np.vstack([probabilities, probabilities[copied]]),
        np.append(labels, labels[copied]),
        embeddings=np.vstack([embeddings, embeddings[copied]]),
        method=method,
    )
    scores = with_copy["label_issue_score"].to_numpy()
    np.testing.assert_allclose(scores[:-1], original["label_issue_score"], atol=1e-12)
    assert scores[-1] == pytest.approx(original["label_issue_score"][copied])


@pytest.mark.parametrize("method", LABEL_ISSUE_METHODS)
def test_flags_are_top_of_ranking(method):
    embeddings, probabilities, labels, _ = make_problem(7)
    frame = find_label_issues(probabilities, labels, embeddings=embeddings, method=method)
    n_flagged = int(frame["is_label_issue"].sum())
    assert n_flagged > 0
    assert frame.loc[frame["is_label_issue"], "rank"].max() == n_flagged


def test_settings_recorded_in_attrs():
    embeddings, probabilities, labels, _ = make_problem(8)
    frame = find_label_issues(
        probabilities, labels, embeddings=embeddings, k=5, ensemble_weight=0.3
    )
    assert frame.attrs["k"] == 5
    assert frame.attrs["ensemble_weight"] == 0.3
    assert frame.attrs["score"] == "self_confidence"


def test_class_pair_rate_known_answer():
    # The estimated joint here is [[2/5, 1/5], [0, 2/5]] (see test_joint.py).
    probabilities = np.array(
        [[0.95, 0.05], [0.9, 0.1], [0.15, 0.85], [0.3, 0.7], [0.05, 0.95]]
    )
    labels = np.array([0, 0, 0, 1, 1])
    frame = find_label_issues(probabilities, labels)
    np.testing.assert_allclose(frame["class_pair_rate"], [1 / 3] * 3 + [0.0] * 2)


def test_joint_recorded_in_attrs():
    embeddings, probabilities, labels, _ = make_problem(9)
    frame = find_label_issues(probabilities, labels, embeddings=embeddings)
    joint = np.asarray(frame.attrs["joint"])
    assert joint.shape == (3, 3)
    assert joint.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(joint.sum(axis=1), np.bincount(labels) / len(labels))

"""Review queues: ordered lists of images that share one reason to be looked at.

Queue ids are short strings that stay valid while the run is unchanged:

``issues``         likely label errors, by rank
``pair-K``         row K of ``class_pairs``: images of A predicted as B, then B as A
``random``         a seeded random sample (``seed`` and ``n`` parameters)
``relabel``        images whose blind answer disagrees with the given label
                   or the model, with no decision recorded since
``bias_slices-K``  row K of the ``bias_slices`` table, when the run has it
``duplicates-K``   group K of a duplicates table, when the run has one

Optional tables come from other stages whose schemas may change, so they
are read generically: a row or group becomes a queue when its images can be
found (see :func:`find_row_images`), and every row is shown as a table.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from beholder.review.journal import JournalState
from beholder.review.records import (
    BIAS_TABLES,
    DUPLICATE_TABLES,
    ReviewRecords,
    parse_id_list,
)

logger = logging.getLogger(__name__)

DEFAULT_SAMPLE_SIZE = 100
MAX_SAMPLE_SIZE = 10_000
# Columns that name the group of a per-image row, in order of preference.
GROUP_COLUMNS = ("slice_id", "slice", "cluster_id", "cluster", "group_id", "group")
TITLE_COLUMNS = ("description", "name", "title", "slice", "cluster_id", "group_id")


class QueueNotFound(KeyError):
    """No queue has the requested id."""


@dataclass
class Queue:
    """One review queue.

    Attributes
    ----------
    queue_id : str
        Id used in URLs and in the journal's ``queue`` column.
    kind : str
        ``issues``, ``pair``, ``random``, ``relabel``, ``bias_slices`` or
        ``duplicates``.
    image_ids : list of int
        Images in review order.
    reasons : list of str
        One short line per image saying why it is in the queue.
    groups : list of (str, list of int)
        Sections shown side by side on the queue's page.
    details : dict
        The source row (a class pair, a slice) as plain values.
    """

    queue_id: str
    kind: str
    title: str
    description: str
    image_ids: list[int]
    reasons: list[str]
    groups: list = field(default_factory=list)
    details: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)

    def items(self) -> list[dict]:
        return [
            {"image_id": image_id, "reason": reason}
            for image_id, reason in zip(self.image_ids, self.reasons)
        ]

    def summary(self) -> dict:
        return {
            "queue_id": self.queue_id,
            "kind": self.kind,
            "title": self.title,
            "description": self.description,
            "n_items": len(self.image_ids),
        }


class QueueCatalog:
    """Build the queues of one run on request.

    The label-error, pair and optional-table queues depend only on the run,
    so they are built once. ``random`` depends on its parameters and
    ``relabel`` on the journal, so those two are built on each request.
    """

    def __init__(self, records: ReviewRecords, *, default_seed: int = 0):
        self.records = records
        self.default_seed = default_seed
        self._static: dict[str, Queue] = {}
        self._add(issue_queue(records))
        mistakes = group_mistakes(records.images)
        for index in range(len(records.pairs)):
            self._add(pair_queue(records, index, mistakes=mistakes))
        self.tables: dict[str, list[dict]] = {}
        for kind, names in (
            ("bias_slices", BIAS_TABLES),
            ("duplicates", DUPLICATE_TABLES),
        ):
            for name in names:
                frame = records.optional_tables.get(name)
                if frame is None:
                    continue
                self.tables[name] = []
                for queue, row in table_queues(records, name, frame, kind=kind):
                    self.tables[name].append({"row": row, "queue": queue})
                    if queue is not None:
                        self._add(queue)

    def _add(self, queue: Queue) -> None:
        self._static[queue.queue_id] = queue

    def static_queues(self) -> list[Queue]:
        return list(self._static.values())

    def get(
        self,
        queue_id: str,
        *,
        state: JournalState | None = None,
        seed: int | None = None,
        n: int | None = None,
    ) -> Queue:
        """Return queue ``queue_id``.

        ``state`` (the folded journal) is needed for ``relabel``; ``seed``
        and ``n`` set the ``random`` sample.

        Raises
        ------
        QueueNotFound
            For an unknown id.
        ValueError
            For a sample size outside 1..``MAX_SAMPLE_SIZE``.
        """
        if queue_id == "random":
            seed = self.default_seed if seed is None else seed
            return random_queue(self.records, seed=seed, n=n or DEFAULT_SAMPLE_SIZE)
        if queue_id == "relabel":
            return relabel_queue(self.records, state or JournalState.from_rows([]))
        try:
            return self._static[queue_id]
        except KeyError:
            raise QueueNotFound(queue_id) from None


def issue_queue(records: ReviewRecords) -> Queue:
    """Build the queue of likely label errors, most likely first."""
    issues = records.issues
    if "is_label_issue" in issues.columns:
        issues = issues[issues["is_label_issue"].astype(bool)]
    if "rank" in issues.columns:
        issues = issues.sort_values(["rank", "image_id"])
    ids = [int(i) for i in issues["image_id"] if records.has_image(int(i))]
    suggested = issues.set_index("image_id").get("suggested")
    reasons = []
    for image_id in ids:
        given = records.given_label(image_id)
        if suggested is not None:
            reasons.append(f"given {given}, model suggests {suggested.loc[image_id]}")
        else:
            reasons.append(f"given {given}")
    return Queue(
        queue_id="issues",
        kind="issues",
        title="Likely label errors",
        description=(
            "Images whose given label the out-of-sample model finds least "
            "likely, ranked by label-issue score."
        ),
        image_ids=ids,
        reasons=reasons,
        groups=[("Likely label errors", ids)],
    )


def pair_queue(
    records: ReviewRecords, index: int, *, mistakes: dict | None = None
) -> Queue:
    """Build the queue of class pair ``index``: A predicted as B, then B as A.

    ``mistakes`` is :func:`group_mistakes` of the run's images, computed
    once for all pairs.
    """
    if mistakes is None:
        mistakes = group_mistakes(records.images)
    pair = records.pairs.iloc[index]
    a, b = str(pair["class_a"]), str(pair["class_b"])
    a_as_b = mistakes.get((a, b), [])
    b_as_a = mistakes.get((b, a), [])
    ids = a_as_b + b_as_a
    reasons = [f"{a} predicted as {b}"] * len(a_as_b)
    reasons += [f"{b} predicted as {a}"] * len(b_as_a)
    details = {key: _plain(value) for key, value in pair.items()}
    return Queue(
        queue_id=f"pair-{index}",
        kind="pair",
        title=f"{a} \u2194 {b}",
        description=(
            f"Images labelled {a} that the model predicts as {b}, and the "
            "reverse; most confident mistakes first."
        ),
        image_ids=ids,
        reasons=reasons,
        groups=[(f"{a} predicted as {b}", a_as_b), (f"{b} predicted as {a}", b_as_a)],
        details=details,
    )


def random_queue(records: ReviewRecords, *, seed: int, n: int) -> Queue:
    """Build a uniform random sample of ``n`` images, fixed by ``seed``."""
    if not 1 <= n <= MAX_SAMPLE_SIZE:
        raise ValueError(f"n must be between 1 and {MAX_SAMPLE_SIZE}, got {n}.")
    n = min(n, records.n_images)
    rng = np.random.default_rng(seed)
    chosen = rng.choice(records.images.index.to_numpy(), size=n, replace=False)
    ids = [int(i) for i in chosen]
    return Queue(
        queue_id="random",
        kind="random",
        title=f"Random sample (seed {seed})",
        description=(
            f"{n} images drawn uniformly at random with seed {seed}; the "
            "unbiased sample for blind review."
        ),
        image_ids=ids,
        reasons=["random sample"] * len(ids),
        groups=[("Sample", ids)],
        params={"seed": seed, "n": n},
    )


def relabel_queue(records: ReviewRecords, state: JournalState) -> Queue:
    """Build the queue of blind answers that disagree, with no decision since.

    An image enters when its latest blind answer differs from the given
    label or from the model's prediction (a "can't tell" answer counts as
    differing), and leaves once any reviewer records a decision after it.
    """
    latest: dict[int, dict] = {}
    for row in state.blind_answers:
        latest[row["image_id"]] = row
    ids, reasons = [], []
    for image_id, row in sorted(
        latest.items(), key=lambda item: item[1]["decision_id"]
    ):
        if not records.has_image(image_id):
            continue
        decision = state.decisions.get(image_id)
        if decision is not None and decision["decision_id"] > row["decision_id"]:
            continue
        answer = row["new_label"]
        given = records.given_label(image_id)
        model = records.predicted(image_id)
        if answer is not None and answer == given and answer == model:
            continue
        shown = "can't tell" if answer is None else answer
        ids.append(image_id)
        reasons.append(f"blind answer {shown} by {row['reviewer']}; given {given}")
    return Queue(
        queue_id="relabel",
        kind="relabel",
        title="Relabel: blind disagreements",
        description=(
            "Images where a blind answer differs from the given label or the "
            "model's prediction, waiting for a decision."
        ),
        image_ids=ids,
        reasons=reasons,
        groups=[("Blind disagreements", ids)],
    )


def table_queues(records: ReviewRecords, name: str, frame: pd.DataFrame, *, kind: str):
    """Yield ``(queue or None, row as plain dict)`` for each row of an optional table.

    A table with an ``image_id`` column has one row per image. Its rows are
    grouped by the first of ``GROUP_COLUMNS`` present, one queue per group.
    Any other table gives one queue per row whose images can be found.
    """
    frame = frame.reset_index(drop=True)
    if "image_id" in frame.columns:
        yield from _grouped_queues(records, name, frame, kind=kind)
        return
    for index, row in frame.iterrows():
        plain = {key: _plain(value) for key, value in row.items()}
        ids = find_row_images(records, row)
        if ids is None:
            yield None, plain
            continue
        title = _row_title(row, fallback=f"{name} row {index}")
        yield _table_queue(name, index, title, ids, kind, plain), plain


def find_row_images(records: ReviewRecords, row: pd.Series) -> list[int] | None:
    """Return the image ids a table row stands for, or None when unknown.

    A row names its images by a list column (``image_ids``, or any column
    ending in ``_ids``), or describes a slice by ``class`` and optionally
    ``property`` with ``bin_low`` and ``bin_high``, looked up in the run's
    ``properties`` table. Misclassified images of a slice come first.
    """
    for column in row.index:
        if str(column) == "image_ids" or str(column).endswith("_ids"):
            ids = parse_id_list(row[column])
            return [i for i in ids if records.has_image(i)]
    if "class" not in row.index and "property" not in row.index:
        return None
    images = records.images
    inside = np.ones(len(images), dtype=bool)
    class_name = _plain(row.get("class"))
    if class_name is not None:
        inside &= (images["label"] == str(class_name)).to_numpy()
    property_name = _plain(row.get("property"))
    if property_name is not None:
        values = _property_values(records, str(property_name))
        if values is None:
            return None
        inside &= _in_bin(values, row.get("bin_low"), row.get("bin_high"))
    members = images[inside]
    wrong = members["predicted"].astype(str) != members["label"]
    ordered = pd.concat([members[wrong], members[~wrong]])
    return [int(i) for i in ordered["image_id"]]


def _grouped_queues(records, name, frame, *, kind):
    key = next((column for column in GROUP_COLUMNS if column in frame.columns), None)
    groups = [(None, frame)] if key is None else frame.groupby(key, sort=True)
    for index, (value, group) in enumerate(groups):
        ids = [int(i) for i in group["image_id"] if records.has_image(int(i))]
        title = f"{name} {key} {value}" if key else name
        plain = {key or "table": value if key else name, "n_images": len(ids)}
        yield _table_queue(name, index, title, ids, kind, plain), plain


def _table_queue(name, index, title, ids, kind, details) -> Queue:
    return Queue(
        queue_id=f"{kind}-{index}",
        kind=kind,
        title=str(title),
        description=f"Images of row {index} of table {name}.",
        image_ids=ids,
        reasons=[f"{name} row {index}"] * len(ids),
        groups=[(str(title), ids)],
        details=details,
    )


def group_mistakes(images: pd.DataFrame) -> dict[tuple[str, str], list[int]]:
    """Map (label, predicted) to the ids of those misclassified images.

    Each list is ordered by the model's confidence, highest first, then by
    image id.
    """
    predicted = images["predicted"].astype(str)
    wrong = images[images["predicted"].notna() & (predicted != images["label"])]
    wrong = wrong.assign(predicted=wrong["predicted"].astype(str))
    wrong = wrong.sort_values(["confidence", "image_id"], ascending=[False, True])
    groups = wrong.groupby(["label", "predicted"], sort=False)["image_id"]
    return {
        (str(label), str(guess)): [int(i) for i in ids]
        for (label, guess), ids in groups
    }


def _property_values(records: ReviewRecords, name: str) -> np.ndarray | None:
    table = records.optional_tables.get("properties")
    if table is None or name not in table.columns:
        return None
    if "image_id" in table.columns:
        table = table.set_index("image_id").reindex(records.images.index)
    elif len(table) != records.n_images:
        return None
    return pd.to_numeric(table[name], errors="coerce").to_numpy(dtype=float)


def _in_bin(values: np.ndarray, low, high) -> np.ndarray:
    # NOTE: bins are read as [low, high), and the top bin also takes the
    # maximum value. A table that drew its bins otherwise would differ here
    # by the images at the edges.
    low = -np.inf if _plain(low) is None else float(low)
    high = np.inf if _plain(high) is None else float(high)
    if low == high:
        return values == low
    top = np.nanmax(values) if np.isfinite(values).any() else np.inf
    inside = (values >= low) & (values < high)
    if high >= top:
        inside |= values == high
    return inside


def _row_title(row: pd.Series, *, fallback: str) -> str:
    for column in TITLE_COLUMNS:
        value = _plain(row.get(column))
        if value is not None and str(value).strip():
            return str(value)
    return fallback


def _plain(value):
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(item) for item in value]
    if value is None:
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if isinstance(value, np.generic):
        return value.item()
    return value

"""Agreement between blind answers, the model and the given labels.

In blind mode a person sees only the image and picks a class. Each answer
that no undo names is compared with the given label and with the model's
out-of-sample prediction. A "can't tell" answer is counted but left out of
the agreement rates.
"""

from __future__ import annotations

from collections import defaultdict

from beholder.review.journal import JournalState
from beholder.review.records import ReviewRecords

MAX_LISTED_PAIRS = 30


def blind_agreement(records: ReviewRecords, state: JournalState) -> dict:
    """Measure how often person, model and given label agree.

    Returns
    -------
    dict
        ``overall``, ``per_class`` (by given label, in class order) and
        ``per_pair`` (unordered class pairs, most disagreements first). Each
        entry has the counts ``n_answers``, ``n_cant_tell``, ``n_rated`` and,
        over the rated answers, ``person_given``, ``person_model``,
        ``model_given`` and ``all_agree`` as ``{"count", "rate"}``.
    """
    answers = []
    for row in state.blind_answers:
        image_id = row["image_id"]
        if not records.has_image(image_id):
            continue
        answers.append(
            {
                "image_id": image_id,
                "person": row["new_label"],
                "given": records.given_label(image_id),
                "model": records.predicted(image_id),
            }
        )

    by_class = defaultdict(list)
    for answer in answers:
        by_class[answer["given"]].append(answer)
    per_class = [
        {"class": name, **_agreement(by_class[name])}
        for name in records.classes
        if by_class.get(name)
    ]
    return {
        "overall": _agreement(answers),
        "per_class": per_class,
        "per_pair": _pairs(records, answers),
    }


def _pairs(records: ReviewRecords, answers: list[dict]) -> list[dict]:
    pairs = set()
    for answer in answers:
        for other in (answer["person"], answer["model"]):
            if other is not None and other != answer["given"]:
                pairs.add(tuple(sorted((answer["given"], other))))
    for row in records.pairs.head(MAX_LISTED_PAIRS).itertuples():
        pairs.add(tuple(sorted((str(row.class_a), str(row.class_b)))))

    rows = []
    for a, b in pairs:
        inside = [answer for answer in answers if answer["given"] in (a, b)]
        if not inside:
            continue
        entry = {"class_a": a, "class_b": b, **_agreement(inside)}
        entry["person_a_for_b"] = sum(
            1 for x in inside if x["given"] == b and x["person"] == a
        )
        entry["person_b_for_a"] = sum(
            1 for x in inside if x["given"] == a and x["person"] == b
        )
        rows.append(entry)
    rows.sort(
        key=lambda row: (
            -(row["person_a_for_b"] + row["person_b_for_a"]),
            -row["n_answers"],
            row["class_a"],
            row["class_b"],
        )
    )
    return rows


def _agreement(answers: list[dict]) -> dict:
    rated = [answer for answer in answers if answer["person"] is not None]
    n_rated = len(rated)

    def share(count: int) -> dict:
        rate = count / n_rated if n_rated else None
        return {"count": count, "rate": rate}

    person_given = sum(1 for x in rated if x["person"] == x["given"])
    person_model = sum(1 for x in rated if x["person"] == x["model"])
    model_given = sum(1 for x in rated if x["model"] == x["given"])
    all_agree = sum(
        1 for x in rated if x["person"] == x["given"] and x["model"] == x["given"]
    )
    return {
        "n_answers": len(answers),
        "n_cant_tell": len(answers) - n_rated,
        "n_rated": n_rated,
        "person_given": share(person_given),
        "person_model": share(person_model),
        "model_given": share(model_given),
        "all_agree": share(all_agree),
    }

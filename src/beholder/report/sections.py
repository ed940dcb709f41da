"""The report's sections, each a function from a run store to an HTML fragment.

Every fragment is rendered through a Jinja environment with autoescaping on,
so file names and labels from the dataset are always escaped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from jinja2 import Environment

from beholder.report.plots import confusion_matrix_png
from beholder.report.thumbnails import png_or_jpeg_uri, thumbnail_uri

_ENV = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)


@dataclass
class Section:
    id: str
    title: str
    html: str


def render(template: str, **context) -> str:
    """Render an inline Jinja template with autoescaping."""
    return _ENV.from_string(template).render(**context)


SUMMARY = """
{% if ledger.flagged %}
<p class="warn"><b>{{ ledger.flagged }} of {{ ledger.given }} files were not used.</b>
See <a href="#ledger">the file ledger</a> for each file and the reason.</p>
{% endif %}
<table class="numbers">
<tr><td>files given</td><td>{{ ledger.given }}</td></tr>
<tr><td>images read</td><td>{{ ledger.read }}</td></tr>
<tr><td>files flagged</td><td>{{ ledger.flagged }}</td></tr>
<tr><td>classes</td><td>{{ summary.n_classes }}</td></tr>
<tr><td>out-of-sample accuracy</td><td>{{ "%.3f" | format(summary.accuracy) }}</td></tr>
<tr><td>flagged label issues</td><td>{{ summary.n_label_issues }}</td></tr>
</table>
<p class="muted">Predictions: {{ summary.prediction_source }}; backbone {{ config.backbone }}; seed {{ config.seed }}.</p>
{% for note in summary.notes %}<p class="warn">{{ note }}</p>{% endfor %}
"""


def summary_section(store, meta) -> Section:
    summary = meta["summary"]
    html = render(
        SUMMARY, summary=summary, ledger=summary["ledger"], config=meta["config"]
    )
    return Section("summary", "Summary", html)


SUSPECT_CARDS = """
<div class="grid">
{% for row in rows %}
<div class="card">
{% if row.thumb %}<img src="{{ row.thumb }}" alt="{{ row.relpath }}">{% endif %}
<div>#{{ row.rank }} · score {{ "%.3f" | format(row.score) }}</div>
{% if row.knn is not none %}<div>neighbours agreeing {{ "%.0f%%" | format(100 * row.knn) }}</div>{% endif %}
<div>{% if row.flagged %}<span class="given">flagged</span>{% else %}<span class="muted">not flagged</span>{% endif %}</div>
<div>given <span class="given">{{ row.label }}</span></div>
<div>suggested <span class="suggested">{{ row.suggested }}</span></div>
<div class="path">{{ row.relpath }}</div>
</div>
{% endfor %}
</div>
"""

SUSPECTS = (
    """
{% if n_flagged %}
<p>The {{ n_flagged }} images flagged as label issues, ranked by label-issue score
(higher is more suspect).
{% if rows | length < n_flagged %}The top {{ rows | length }} are shown; all are in
label_issues.parquet (column is_label_issue).{% endif %}
Look at each image as if you were the model.</p>
{% else %}
<p>No image is flagged as a label issue.</p>
{% endif %}
"""
    + SUSPECT_CARDS
)

UNFLAGGED = (
    """
<p>These images are <b>not flagged</b>: they are the highest-ranked images by
label-issue score that the pruning rule did not flag. The rule flags only as many
images as it estimates have wrong labels. They are shown for context, not as
suspected errors.</p>
"""
    + SUSPECT_CARDS
)


def suspects_section(store, meta, *, n_suspects: int) -> Section:
    """Show the flagged label issues (``is_label_issue``), at most ``n_suspects``."""
    issues = store.read_table("label_issues")
    flagged = issues[issues["is_label_issue"].astype(bool)]
    rows = _suspect_cards(store, flagged, n_suspects)
    if len(flagged):
        title = f"Top {len(rows)} suspected label errors ({len(flagged)} flagged)"
    else:
        title = "Suspected label errors: none flagged"
    html = render(SUSPECTS, rows=rows, n_flagged=len(flagged))
    return Section("suspects", title, html)


def unflagged_section(store, meta, *, n_images: int = 12) -> Section | None:
    """Show the images ranked next after the flagged ones, marked as not flagged."""
    issues = store.read_table("label_issues")
    unflagged = issues[~issues["is_label_issue"].astype(bool)]
    rows = _suspect_cards(store, unflagged, n_images)
    if not rows:
        return None
    return Section(
        "next-by-score",
        "Next images by label-issue score, not flagged",
        render(UNFLAGGED, rows=rows),
    )


def _suspect_cards(store, issues: pd.DataFrame, n: int) -> list[dict]:
    images = store.read_table("images")
    top = issues.sort_values("rank").head(n)
    merged = top.merge(images[["image_id", "path", "relpath", "label"]], on="image_id")
    return [
        {
            "thumb": thumbnail_uri(r.path),
            "rank": int(r.rank),
            "score": float(r.label_issue_score),
            "knn": _optional_float(getattr(r, "knn_agreement", None)),
            "flagged": bool(r.is_label_issue),
            "label": r.label,
            "suggested": r.suggested,
            "relpath": r.relpath,
        }
        for r in merged.itertuples()
    ]


PAIRS = """
<p>Unordered class pairs ranked by overlap: the larger share of either class that the
out-of-sample model assigns to the other.</p>
<table class="numbers">
<tr><th>class A</th><th>class B</th><th>A as B</th><th>B as A</th><th>overlap</th>
<th>suggestion</th></tr>
{% for p in pairs %}
<tr><td>{{ p.class_a }}</td><td>{{ p.class_b }}</td><td>{{ p.n_a_as_b }}</td>
<td>{{ p.n_b_as_a }}</td><td>{{ "%.1f%%" | format(100 * p.overlap) }}</td>
<td>{{ p.suggestion or "" }}{% if p.suggestion_reason %}: {{ p.suggestion_reason }}{% endif %}</td></tr>
{% endfor %}
</table>
{% for p in examples %}
<h3>{{ p.class_a }} ↔ {{ p.class_b }}</h3>
<div class="grid">
{% for e in p.images %}
<div class="card">{% if e.thumb %}<img src="{{ e.thumb }}" alt="{{ e.relpath }}">{% endif %}
<div>given <span class="given">{{ e.label }}</span>, predicted <span class="suggested">{{ e.predicted }}</span></div>
<div class="path">{{ e.relpath }}</div></div>
{% endfor %}
</div>
{% endfor %}
"""


def pairs_section(store, meta, *, n_pairs: int = 10, n_examples: int = 3) -> Section:
    pairs = store.read_table("class_pairs").head(n_pairs)
    images = store.read_table("images")
    examples = []
    for pair in pairs.head(5).itertuples():
        examples.append(
            {
                "class_a": pair.class_a,
                "class_b": pair.class_b,
                "images": _pair_examples(images, pair.class_a, pair.class_b, n_examples)
                + _pair_examples(images, pair.class_b, pair.class_a, n_examples),
            }
        )
    html = render(PAIRS, pairs=pairs.to_dict("records"), examples=examples)
    return Section("pairs", "Most-confused class pairs", html)


def _pair_examples(images: pd.DataFrame, given: str, predicted: str, n: int) -> list:
    hits = images[(images["label"] == given) & (images["predicted"] == predicted)]
    hits = hits.sort_values("confidence", ascending=False).head(n)
    return [
        {
            "thumb": thumbnail_uri(r.path),
            "label": r.label,
            "predicted": r.predicted,
            "relpath": r.relpath,
        }
        for r in hits.itertuples()
    ]


CONFUSION = """<img alt="confusion matrix" src="{{ uri }}" style="max-width:100%">"""


def confusion_section(store, meta) -> Section:
    matrix = store.read_array("confusion")
    uri = png_or_jpeg_uri(confusion_matrix_png(np.asarray(matrix), meta["classes"]))
    return Section("confusion", "Confusion matrix", render(CONFUSION, uri=uri))


LEDGER = """
{% if not rows %}<p>Every file given was read.</p>{% else %}
<table><tr><th>reason</th><th>files</th></tr>
{% for reason, count in by_reason %}<tr><td>{{ reason }}</td><td>{{ count }}</td></tr>{% endfor %}
</table>
<table><tr><th>file</th><th>stage</th><th>reason</th></tr>
{% for r in rows %}<tr><td>{{ r.relpath }}</td><td>{{ r.stage }}</td><td>{{ r.reason }}</td></tr>{% endfor %}
</table>
{% if more %}<p class="muted">{{ more }} more in ledger.parquet.</p>{% endif %}
{% endif %}
"""


def ledger_section(store, meta, *, max_rows: int = 500) -> Section:
    ledger = store.read_table("ledger")
    flagged = ledger[ledger["status"] == "flagged"]
    by_reason = list(flagged["reason"].value_counts().items())
    rows = flagged.head(max_rows).to_dict("records")
    html = render(
        LEDGER, rows=rows, by_reason=by_reason, more=max(0, len(flagged) - max_rows)
    )
    return Section("ledger", "File ledger: files not used", html)


IMAGE_ISSUES = """
<p>Checks on every image, all model-free except <code>outlier</code>, which
uses the embeddings. Scores are in [0, 1]; an image is flagged when its
score passes the check's threshold.</p>
<table class="numbers"><tr><th>issue</th><th>images flagged</th><th>share</th></tr>
{% for row in counts %}<tr><td>{{ row.issue }}</td><td>{{ row.count }}</td>
<td>{{ "%.1f%%" | format(100 * row.share) }}</td></tr>{% endfor %}
</table>
{% for block in examples %}
<h3>{{ block.issue }}</h3>
<div class="grid">
{% for e in block.images %}
<div class="card">{% if e.thumb %}<img src="{{ e.thumb }}" alt="{{ e.relpath }}">{% endif %}
<div>score {{ "%.2f" | format(e.score) }} · {{ e.label }}</div>
<div class="path">{{ e.relpath }}</div></div>
{% endfor %}
</div>
{% endfor %}
"""

# Duplicate and leakage flags are shown as pairs in their own section.
_PAIR_ISSUES = {"exact_duplicate", "near_duplicate", "split_leakage", "label_conflict"}


def image_issues_section(store, meta, *, n_examples: int = 6) -> Section | None:
    if not store.has_table("image_issues"):
        return None
    issues = store.read_table("image_issues")
    names = [
        c[3:]
        for c in issues.columns
        if c.startswith("is_") and c[3:] not in _PAIR_ISSUES
    ]
    counts, examples = [], []
    for name in names:
        flagged = issues[issues[f"is_{name}"].astype(bool)]
        # Undecodable images have no score and count for no share.
        n_measured = int(issues[f"{name}_score"].notna().sum())
        share = len(flagged) / n_measured if n_measured else 0.0
        counts.append({"issue": name, "count": len(flagged), "share": share})
        top = flagged.sort_values(f"{name}_score", ascending=False).head(n_examples)
        if len(top):
            examples.append({"issue": name, "images": _issue_cards(store, top, name)})
    html = render(IMAGE_ISSUES, counts=counts, examples=examples)
    return Section("image-issues", "Image properties and issues", html)


def _issue_cards(store, rows: pd.DataFrame, name: str) -> list[dict]:
    paths = store.read_table("images").set_index("image_id")["path"]
    return [
        {
            "thumb": thumbnail_uri(paths[r["image_id"]]),
            "score": float(r[f"{name}_score"]),
            "label": r["label"],
            "relpath": r["relpath"],
        }
        for _, r in rows.iterrows()
    ]


DUPLICATES = """
<p>{{ n_exact }} exact and {{ n_near }} near-duplicate pairs. Pairs across
splits (leakage): <b>{{ n_leak }}</b>. Pairs with different labels (label
conflicts): <b>{{ n_conflict }}</b>. Exact means the same decoded pixels.</p>
<table>
<tr><th>image A</th><th>image B</th><th>kind</th><th>hash distance</th>
{% if has_cosine %}<th>cosine</th>{% endif %}<th>flags</th></tr>
{% for p in pairs %}
<tr>
<td>{% if p.thumb_a %}<img src="{{ p.thumb_a }}" alt="" width="120">{% endif %}<br>
<span class="path">{{ p.relpath_a }}</span><br>{{ p.label_a }}</td>
<td>{% if p.thumb_b %}<img src="{{ p.thumb_b }}" alt="" width="120">{% endif %}<br>
<span class="path">{{ p.relpath_b }}</span><br>{{ p.label_b }}</td>
<td>{{ p.kind }}</td><td>{{ p.hash_distance }}</td>
{% if has_cosine %}<td>{{ "%.3f" | format(p.cosine_similarity) if p.cosine_similarity == p.cosine_similarity else "" }}</td>{% endif %}
<td>{% if p.cross_split %}<span class="given">leakage</span> {% endif %}
{% if p.label_conflict %}<span class="given">label conflict</span>{% endif %}</td>
</tr>
{% endfor %}
</table>
{% if more %}<p class="muted">{{ more }} more pairs in duplicates.parquet.</p>{% endif %}
"""


def duplicates_section(store, meta, *, max_pairs: int = 60) -> Section | None:
    if not store.has_table("duplicates"):
        return None
    pairs = store.read_table("duplicates")
    paths = store.read_table("images").set_index("image_id")["path"]
    # Leakage and conflicts first: they change evaluation and training.
    order = pairs.assign(
        priority=pairs["cross_split"].astype(int) + pairs["label_conflict"].astype(int)
    ).sort_values(["priority", "score"], ascending=False)
    shown = order.head(max_pairs).to_dict("records")
    for pair in shown:
        pair["thumb_a"] = thumbnail_uri(paths[pair["image_id_a"]], size=120)
        pair["thumb_b"] = thumbnail_uri(paths[pair["image_id_b"]], size=120)
    html = render(
        DUPLICATES,
        pairs=shown,
        n_exact=int((pairs["kind"] == "exact").sum()),
        n_near=int((pairs["kind"] != "exact").sum()),
        n_leak=int(pairs["cross_split"].sum()),
        n_conflict=int(pairs["label_conflict"].sum()),
        has_cosine=bool(pairs["cosine_similarity"].notna().any()),
        more=max(0, len(pairs) - max_pairs),
    )
    return Section("duplicates", "Duplicates, split leakage and label conflicts", html)


def bias_section(store, meta) -> Section | None:
    """Return the bias fragment that the audit rendered, already escaped."""
    path = store.run_dir / "bias_section.html"
    if not path.is_file():
        return None
    # The fragment brings its own heading.
    return Section("bias", "", path.read_text(encoding="utf-8"))


def _optional_float(value) -> float | None:
    if value is None or pd.isna(value):
        return None
    return float(value)

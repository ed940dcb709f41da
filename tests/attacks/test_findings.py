"""What the audit ranks and counts as suspected label errors."""

from __future__ import annotations

import re
import shutil

import pytest

from beholder.audit import AuditConfig, run_audit
from beholder.store import RunStore


@pytest.fixture
def config(tiny_backbone_file):
    # The property scan and bias analysis are off because they take most of
    # the time, and these tests look only at the probe and the ranking.
    return AuditConfig(
        backbone=str(tiny_backbone_file), n_folds=3, seed=0, scan=False, bias=False
    )


def test_duplicated_wrong_label_not_learned(make_class_folders, config):
    # One class_0 image is copied three times into class_1, and another is
    # moved once into class_2. Each wrong copy should be predicted as class_0,
    # like the single one. When exact copies land in different folds, a copy
    # is predicted by a probe that trained on another copy with the same
    # wrong label, so the error is hidden.
    data = make_class_folders(n_classes=3, per_class=12)
    source = data / "class_0" / "000.png"
    for i in range(3):
        shutil.copy(source, data / "class_1" / f"copy{i}.png")
    source.unlink()
    (data / "class_0" / "001.png").rename(data / "class_2" / "single.png")

    result = run_audit(data, data.parent / "run", config)

    store = RunStore.open(result.run_dir)
    table = store.read_table("label_issues").merge(
        store.read_table("images"), on="image_id"
    ).set_index("relpath")
    columns = ["predicted", "label_issue_score", "is_label_issue"]
    assert table.loc["class_2/single.png", "predicted"] == "class_0"
    copies = table.loc[[f"class_1/copy{i}.png" for i in range(3)], columns]
    assert (copies["predicted"] == "class_0").all(), copies


def test_clean_audit_lists_no_suspects(make_class_folders, tmp_path, run_cli):
    data = make_class_folders(n_classes=2, per_class=6)

    result = run_cli(data, "--out", tmp_path / "run")

    assert result.exit_code == 0, result.output
    title = re.search(r"Top suspected label errors \((\d+) in all\)", result.output)
    assert title, result.output
    n_flagged = int(title.group(1))
    listed = re.findall(r"class_\d/\d{3}\.png", result.output)
    assert len(listed) <= n_flagged, result.output


def test_report_suspect_count_is_consistent(make_class_folders, tmp_path, config):
    data = make_class_folders(n_classes=3, per_class=10)

    result = run_audit(data, tmp_path / "run", config)

    report = result.report_path.read_text(encoding="utf-8")
    heading = re.search(r"Top (\d+) suspected label errors", report)
    n_flagged = result.summary["n_label_issues"]
    if heading:
        assert int(heading.group(1)) <= n_flagged

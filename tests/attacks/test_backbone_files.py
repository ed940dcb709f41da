"""Backbone files: what loading them may run, and what the cache key covers."""

from __future__ import annotations

import os

import pytest
import torch

from beholder.embed import load_backbone
from beholder.errors import BackboneError


class _WritesMarker:
    """Pickled stand-in for a hostile checkpoint: unpickling creates a folder."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_checkpoint_is_not_unpickled_as_code(tmp_path):
    marker = tmp_path / "unpickled"
    checkpoint = tmp_path / "model.pth"
    torch.save(_WritesMarker(marker), checkpoint)

    with pytest.raises(BackboneError):
        load_backbone(str(checkpoint))

    assert not marker.exists(), "loading the checkpoint ran code from the pickle"


def test_cache_key_covers_weight_content(tmp_path):
    import timm

    paths = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        state = timm.create_model("resnet10t", pretrained=False).state_dict()
        path = tmp_path / f"run{seed}" / "best.pth"
        path.parent.mkdir()
        torch.save(state, path)
        paths.append(path)
    assert paths[0].stat().st_size == paths[1].stat().st_size

    first = load_backbone("resnet10t", weights=paths[0])
    second = load_backbone("resnet10t", weights=paths[1])

    assert first.cache_key != second.cache_key

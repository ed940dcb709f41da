"""Embedding: pretrained backbones and cached feature extraction."""

from beholder.embed.backbones import DEFAULT_BACKBONE, Backbone, load_backbone
from beholder.embed.embedder import Embeddings, embed_images

__all__ = [
    "DEFAULT_BACKBONE",
    "Backbone",
    "Embeddings",
    "embed_images",
    "load_backbone",
]

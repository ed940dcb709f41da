"""Storage: the run folder, its database and arrays."""

from beholder.store.run import RunStore, create_engine

__all__ = ["RunStore", "create_engine"]

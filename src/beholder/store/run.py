"""The run folder: one audit's records, arrays and report in one place.

Tables go to a SQL database through SQLAlchemy (SQLite file
``RUN_DIR/beholder.db`` by default, or any database URL) and, for pandas
users, to ``RUN_DIR/<table>.parquet``. Arrays go to ``RUN_DIR/<name>.npy``
and the run's configuration and summary to ``RUN_DIR/run.json``.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from beholder.errors import StoreError

logger = logging.getLogger(__name__)

DB_FILENAME = "beholder.db"
META_FILENAME = "run.json"


class RunStore:
    """Read and write one run folder.

    Parameters
    ----------
    run_dir : path
        The run folder; created when missing.
    database_url : str, optional
        SQLAlchemy URL of the database for records. Default: a SQLite file in
        the run folder, opened in WAL mode.
    """

    def __init__(self, run_dir: str | Path, *, database_url: str | None = None):
        self.run_dir = Path(run_dir).expanduser().resolve()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.database_url = database_url or f"sqlite:///{self.run_dir / DB_FILENAME}"
        self._engine = None

    @classmethod
    def open(cls, run_dir: str | Path, *, database_url: str | None = None) -> RunStore:
        """Open an existing run folder; raise StoreError when it is not one."""
        path = Path(run_dir).expanduser()
        if not (path / META_FILENAME).is_file():
            raise StoreError(
                f"{path} is not a beholder run folder (no {META_FILENAME}). "
                "Create one with: beholder audit DATA_DIR --out RUN_DIR"
            )
        return cls(path, database_url=database_url)

    @property
    def engine(self):
        """The SQLAlchemy engine, created on first use."""
        if self._engine is None:
            self._engine = create_engine(self.database_url)
        return self._engine

    def write_table(self, name: str, frame: pd.DataFrame) -> None:
        """Replace table ``name`` in the database and in ``name.parquet``."""
        frame = frame.reset_index(drop=True)
        frame.to_parquet(self.run_dir / f"{name}.parquet", index=False)
        _sql_ready(frame).to_sql(name, self.engine, if_exists="replace", index=False)

    def read_table(self, name: str) -> pd.DataFrame:
        """Read table ``name``, from Parquet when present (keeps list columns)."""
        parquet = self.run_dir / f"{name}.parquet"
        if parquet.is_file():
            return pd.read_parquet(parquet)
        try:
            return pd.read_sql_table(name, self.engine)
        except ValueError as error:
            raise StoreError(
                f"Table '{name}' is not in run {self.run_dir}; rerun beholder audit."
            ) from error

    def has_table(self, name: str) -> bool:
        return (self.run_dir / f"{name}.parquet").is_file()

    def write_array(self, name: str, array: np.ndarray) -> None:
        np.save(self.run_dir / f"{name}.npy", np.asarray(array))

    def read_array(self, name: str) -> np.ndarray:
        path = self.run_dir / f"{name}.npy"
        if not path.is_file():
            raise StoreError(f"Array '{name}' is not in run {self.run_dir}.")
        return np.load(path)

    def write_meta(self, meta: dict) -> None:
        text = json.dumps(meta, indent=2, default=_json_default)
        (self.run_dir / META_FILENAME).write_text(text, encoding="utf-8")

    def read_meta(self) -> dict:
        path = self.run_dir / META_FILENAME
        if not path.is_file():
            raise StoreError(f"{self.run_dir} has no {META_FILENAME}.")
        return json.loads(path.read_text(encoding="utf-8"))

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def create_engine(url: str):
    """Create a SQLAlchemy engine; SQLite files get WAL mode and a busy timeout."""
    import sqlalchemy

    if not url.startswith("sqlite"):
        return sqlalchemy.create_engine(url, pool_pre_ping=True)
    engine = sqlalchemy.create_engine(url, connect_args={"timeout": 30})

    @sqlalchemy.event.listens_for(engine, "connect")
    def _set_pragmas(connection, _record):
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def _sql_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """Turn list, dict and array cells into JSON text, which SQL can store."""
    frame = frame.copy()
    for column in frame.columns:
        if frame[column].dtype == object:
            sample = frame[column].dropna()
            if len(sample) and isinstance(sample.iloc[0], (list, dict, np.ndarray)):
                frame[column] = frame[column].map(
                    lambda v: (
                        None if v is None else json.dumps(v, default=_json_default)
                    )
                )
    return frame


def _json_default(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} as JSON")

"""The SQLite store (WAL): one row per cell, its per-example predictions, its environment."""

from __future__ import annotations

import json
import random
import sqlite3
import time
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench.core.spec import CellSpec
from bench.core.status import Status

DEFAULT_STORE = Path("results") / "ftbench.sqlite"
SCHEMA_VERSION = 2
# an answer, not a failure (pruned: a search trial that ASHA ended early for a poor score)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS cells (
    id TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    model TEXT NOT NULL,
    task TEXT NOT NULL,
    method TEXT NOT NULL,
    seed INTEGER NOT NULL,
    device TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    result TEXT,
    env TEXT,
    split_hash TEXT,
    wall_s REAL,
    finished_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS predictions (
    cell_id TEXT NOT NULL REFERENCES cells(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    label NOT NULL,
    pred NOT NULL,
    score REAL,
    extra TEXT,
    PRIMARY KEY (cell_id, idx)
);
"""
# Made by the first claim, not on opening: reading a store (`report`) must not change its file.
_CLAIMS = """
CREATE TABLE IF NOT EXISTS claims (
    cell_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    since TEXT NOT NULL
)
"""

# Made by the first timing pass (bench.timing): one row per timed window.
_TIMINGS = """
CREATE TABLE IF NOT EXISTS timings (
    pass_id TEXT NOT NULL,
    round INTEGER NOT NULL,
    position INTEGER NOT NULL,
    config TEXT NOT NULL,
    cell_id TEXT NOT NULL,
    spec TEXT NOT NULL,
    step_times TEXT NOT NULL,
    load TEXT NOT NULL,
    env TEXT,
    started_at TEXT NOT NULL,
    PRIMARY KEY (pass_id, round, position)
)
"""


def process_owner() -> str:
    """Who holds a claim: host, pid and the process's start time (pids are reused)."""
    import os
    import socket

    import psutil

    pid = os.getpid()
    return f"{socket.gethostname()}:{pid}:{psutil.Process(pid).create_time():.0f}"


def owner_alive(owner: str) -> bool:
    """Whether a claim's owner still runs. Owners on other hosts (a cluster) count as alive:
    their liveness cannot be seen from here."""
    import socket

    import psutil

    host, _, rest = owner.partition(":")
    pid_text, _, started = rest.partition(":")
    if host != socket.gethostname():
        return True
    try:
        return f"{psutil.Process(int(pid_text)).create_time():.0f}" == started
    except (psutil.NoSuchProcess, ValueError):
        return False


def _connect_read_only(path: Path) -> sqlite3.Connection:
    """SQLite's read-only mode; where even its shared-memory file cannot be made (a read-only
    folder), the file is read as immutable (no other process may be writing it then)."""
    uri = path.resolve().as_uri()
    conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=60)
    try:
        conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        return conn
    except sqlite3.OperationalError:
        conn.close()
        return sqlite3.connect(f"{uri}?immutable=1", uri=True)


def _unreadable(path: Path, exc: Exception) -> ValueError:
    return ValueError(
        f"{path} is not a readable ftbench store (SQLite says: {exc}). Nothing was "
        f"written to it; move it aside (or pass another --store) and run again"
    )


# Made by the first `judge` (bench.cli.judge): one row per policy judged against a baseline.
_JUDGEMENTS = """
CREATE TABLE IF NOT EXISTS judgements (
    id TEXT PRIMARY KEY,
    policy TEXT NOT NULL,
    result TEXT NOT NULL,
    finished_at TEXT NOT NULL
)
"""


class Store:
    """Transactional writes: a cell and its predictions land together or not at all."""

    def __init__(self, path: str | Path = DEFAULT_STORE, read_only: bool = False) -> None:
        """Open (or create) the store; `read_only` opens an existing one for reading alone, so
        that a store on a read-only disk, or another user's, can be reported and exported."""
        self.path = Path(path)
        self.read_only = read_only
        if read_only:
            if not self.path.is_file():
                raise FileNotFoundError(
                    f"no store at {self.path}: run `python run_all.py run` first"
                )
            try:
                self._conn = _connect_read_only(self.path)
            except sqlite3.DatabaseError as exc:
                raise _unreadable(self.path, exc) from None
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, timeout=60)
        self._conn.row_factory = sqlite3.Row
        try:
            self._check_schema() if read_only else self._open()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise _unreadable(self.path, exc) from None

    def _open(self) -> None:
        """Set the schema up, retrying while another process holds the lock: SQLite answers
        `database is locked` at once, without waiting, when two connections would deadlock
        (both reading the schema, then both wanting to write it), as two first runs on one
        new store do."""
        deadline = time.monotonic() + 60
        while True:
            try:
                self._set_up()
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05 + random.random() * 0.1)

    def _set_up(self) -> None:
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        with self._conn:
            # One writer at a time creates the tables and reads and sets the version: two runs
            # that open a new store together (or upgrade an old one) must not both insert it
            # (or both alter a table).
            self._conn.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._conn.execute(statement)
            row = self._conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is None:
                self._conn.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            elif int(row["value"]) == 1:  # v2 adds `extra` (generation outputs) to predictions
                self._conn.execute("ALTER TABLE predictions ADD COLUMN extra TEXT")
                self._conn.execute(
                    "UPDATE meta SET value=? WHERE key='schema'", (str(SCHEMA_VERSION),)
                )
            elif int(row["value"]) != SCHEMA_VERSION:
                raise ValueError(
                    f"store {self.path} has schema {row['value']}, this code reads schema "
                    f"{SCHEMA_VERSION}: it was written by a newer ftbench. Update this checkout "
                    f"(git pull, pip install -e .) or pass another --store; it was left as it is"
                )

    def _check_schema(self) -> None:
        """A read-only store must already have this code's schema (nothing can be upgraded)."""
        row = self._conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        found = int(row["value"]) if row else None
        if found != SCHEMA_VERSION:
            raise ValueError(
                f"store {self.path} has schema {found}, this code reads schema {SCHEMA_VERSION}: "
                "open it once with write access to upgrade it, or use the ftbench that wrote it"
            )

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def status(self, cell_id: str) -> str | None:
        row = self._conn.execute("SELECT status FROM cells WHERE id=?", (cell_id,)).fetchone()
        return row["status"] if row else None

    def has_ok(self, cell_id: str) -> bool:
        return self.status(cell_id) == Status.OK

    def has_kept_state(self, cell_id: str) -> bool:
        """Whether the cell's record names a kept trained state (run --keep-states)."""
        row = self._conn.execute(
            "SELECT json_extract(result, '$.kept_state') AS kept FROM cells WHERE id=?",
            (cell_id,),
        ).fetchone()
        return bool(row and row["kept"])

    def claim(self, cell_id: str, owner: str | None = None) -> bool:
        """Take the cell for `owner` (this process by default), in one transaction, unless a
        live owner holds it; a claim whose owner died is taken over. False: leave it alone."""
        owner = owner or process_owner()
        with self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute(_CLAIMS)
            row = self._conn.execute(
                "SELECT owner FROM claims WHERE cell_id=?", (cell_id,)
            ).fetchone()
            if row is not None and row["owner"] != owner and owner_alive(row["owner"]):
                return False
            self._conn.execute(
                "INSERT OR REPLACE INTO claims VALUES (?,?,?)",
                (cell_id, owner, datetime.now(timezone.utc).isoformat(timespec="seconds")),
            )
        return True

    def _has_claims(self) -> bool:
        query = "SELECT 1 FROM sqlite_master WHERE type='table' AND name='claims'"
        return self._conn.execute(query).fetchone() is not None

    def release(self, cell_id: str, owner: str | None = None) -> None:
        """Drop this owner's claim on the cell (after its result is saved, or on interrupt)."""
        if not self._has_claims():
            return
        with self._conn:
            self._conn.execute(
                "DELETE FROM claims WHERE cell_id=? AND owner=?",
                (cell_id, owner or process_owner()),
            )

    def claims(self) -> list[dict[str, Any]]:
        """Cells claimed now: id, owner and since when."""
        if not self._has_claims():
            return []
        return [dict(r) for r in self._conn.execute("SELECT * FROM claims").fetchall()]

    def save_timing(self, window: dict[str, Any]) -> None:
        """Store one window of a timing pass (bench.timing.interleaved.Window.to_row())."""
        with self._conn:
            self._conn.execute(_TIMINGS)
            self._conn.execute(
                "INSERT OR REPLACE INTO timings VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    window["pass_id"],
                    window["round"],
                    window["position"],
                    window["config"],
                    window["cell_id"],
                    window["spec"],
                    json.dumps(window["step_times"]),
                    json.dumps(window["load"], sort_keys=True),
                    json.dumps(window.get("env"), sort_keys=True),
                    window["started_at"],
                ),
            )

    def timings(self) -> list[dict[str, Any]]:
        """Every stored timing window, in pass and round order ([] before the first pass)."""
        query = "SELECT 1 FROM sqlite_master WHERE type='table' AND name='timings'"
        if self._conn.execute(query).fetchone() is None:
            return []
        rows = self._conn.execute(
            "SELECT * FROM timings ORDER BY started_at, pass_id, round, position"
        ).fetchall()
        out = []
        for r in rows:
            row = dict(r)
            row["step_times"] = json.loads(row["step_times"])
            row["load"] = json.loads(row["load"])
            row["env"] = json.loads(row["env"]) if row["env"] else None
            out.append(row)
        return out

    def save_judgement(self, judgement_id: str, policy: str, result: dict[str, Any]) -> None:
        """Store (or replace) one judgement: a policy cell's replies against a baseline's."""
        with self._conn:
            self._conn.execute(_JUDGEMENTS)
            self._conn.execute(
                "INSERT OR REPLACE INTO judgements VALUES (?,?,?,?)",
                (
                    judgement_id,
                    policy,
                    json.dumps(result, sort_keys=True),
                    datetime.now(timezone.utc).isoformat(timespec="seconds"),
                ),
            )

    def judgements(self) -> list[dict[str, Any]]:
        """Every stored judgement, oldest first ([] before the first `judge`)."""
        query = "SELECT 1 FROM sqlite_master WHERE type='table' AND name='judgements'"
        if self._conn.execute(query).fetchone() is None:
            return []
        rows = self._conn.execute("SELECT * FROM judgements ORDER BY finished_at, id").fetchall()
        return [{**dict(r), "result": json.loads(r["result"])} for r in rows]

    def save(self, spec: CellSpec, record: dict[str, Any]) -> None:
        """Insert or replace the cell's row and predictions in one transaction."""
        try:
            status = Status(record["status"]).value
        except ValueError:
            valid = ", ".join(s.value for s in Status)
            raise ValueError(f"status {record['status']!r} is not one of {valid}") from None
        record = {**record, "status": status}
        predictions = record.pop("predictions", None) or []
        env = record.pop("env", None)
        error = record.pop("error", None)
        split_hash = (record.get("data") or {}).get("split_hash")
        with self._conn:
            self._conn.execute("DELETE FROM predictions WHERE cell_id=?", (spec.cell_id,))
            self._conn.execute(
                "INSERT OR REPLACE INTO cells VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    spec.cell_id,
                    spec.to_json(),
                    spec.model,
                    spec.task,
                    spec.method,
                    spec.seed,
                    spec.device,
                    status,
                    error,
                    json.dumps(record, sort_keys=True),
                    json.dumps(env, sort_keys=True) if env is not None else None,
                    split_hash,
                    record.get("wall_s"),
                    datetime.now(timezone.utc).isoformat(timespec="seconds"),
                ),
            )
            self._conn.executemany(
                "INSERT INTO predictions VALUES (?,?,?,?,?,?)",
                [
                    (
                        spec.cell_id,
                        p["idx"],
                        p["label"],
                        p["pred"],
                        p.get("score"),
                        json.dumps(p["extra"]) if p.get("extra") is not None else None,
                    )
                    for p in predictions
                ],
            )

    def delete(self, cell_ids: list[str]) -> int:
        """Remove cells (and their predictions); returns how many rows went."""
        with self._conn:
            count = 0
            for cell_id in cell_ids:
                self._conn.execute("DELETE FROM predictions WHERE cell_id=?", (cell_id,))
                count += self._conn.execute("DELETE FROM cells WHERE id=?", (cell_id,)).rowcount
        return count

    def _row(self, row: sqlite3.Row) -> dict[str, Any]:
        out = dict(row)
        out["result"] = json.loads(out["result"]) if out["result"] else {}
        out["env"] = json.loads(out["env"]) if out["env"] else {}
        out["spec"] = CellSpec.from_json(out["spec"])
        return out

    def get(self, cell_id: str) -> dict[str, Any] | None:
        row = self._conn.execute("SELECT * FROM cells WHERE id=?", (cell_id,)).fetchone()
        return self._row(row) if row else None

    def count(self) -> int:
        """How many cells are stored, whatever their status."""
        return int(self._conn.execute("SELECT COUNT(*) FROM cells").fetchone()[0])

    def cells(self, ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Stored cells (all, or those with the given ids), oldest first."""
        rows = self._conn.execute("SELECT * FROM cells ORDER BY finished_at, id").fetchall()
        wanted = set(ids) if ids is not None else None
        return [self._row(r) for r in rows if wanted is None or r["id"] in wanted]

    def predictions(self, cell_id: str) -> list[dict[str, Any]]:
        """Per-example rows; `extra` (generated text, references) is decoded when present."""
        rows = self._conn.execute(
            "SELECT idx, label, pred, score, extra FROM predictions WHERE cell_id=? ORDER BY idx",
            (cell_id,),
        ).fetchall()
        out = []
        for r in rows:
            row = dict(r)
            extra = row.pop("extra")
            if extra is not None:
                row["extra"] = json.loads(extra)
            out.append(row)
        return out

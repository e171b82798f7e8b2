"""`run --distill-from CELL_ID`: a stored cell as every student's teacher, its training-split
logits prepared from its kept state where one was kept (no training), and `--keep-states`."""

from __future__ import annotations

import os
import re
from pathlib import Path

from bench.core.status import Status

CELL_ID = re.compile(r"^[0-9a-f]{16}$")


def resolve_teacher(value: str | None, store_path: str) -> str | None:
    """--distill-from's value as a Selection takes it: a method name as given; a stored cell's
    id as that cell's spec JSON (ValueError naming the id when the store lacks it or it did
    not finish), its logits cached from its kept state when the record names one."""
    if value is None or not CELL_ID.match(value):
        return value
    from bench.store.cell_store import Store

    if not Path(store_path).exists():
        raise ValueError(f"--distill-from {value}: there is no store at {store_path}")
    with Store(store_path, read_only=True) as store:
        found = store.cells([value])
    if not found:
        raise ValueError(
            f"--distill-from {value}: no cell {value} in {store_path}; give a method name or "
            "the id of a stored cell (`python run_all.py run --dry-run` lists ids)"
        )
    record = found[0]
    if record["status"] != Status.OK:
        raise ValueError(
            f"--distill-from {value}: that cell ended {record['status']}, not ok: a teacher must "
            "have finished"
        )
    if (record["result"] or {}).get("kept_state"):
        from bench.cell.kept_state import states_folder
        from bench.cell.teacher import cache_from_kept

        cache_from_kept(record["spec"], record["result"], states_folder(store_path))
    return record["spec"].to_json()


def keep_states_here(store_path: str, executor: str) -> None:
    """Make every worker of this run keep its cell's trained state beside the store (the
    workers read the folder from the environment, set before the first one starts)."""
    from bench.cell.kept_state import STATES_ENV, states_folder

    if executor == "ray":
        raise ValueError(
            "--keep-states writes states beside the store on this machine; Ray workers may "
            "run on others: use --executor local"
        )
    os.environ[STATES_ENV] = str(states_folder(store_path))

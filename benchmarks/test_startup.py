"""Start-up of the commands that do not train: each is a fresh interpreter (`python run_all.py
...`), timed end to end, so the imports a command pays for are in the figure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = (
    ("--help",),
    ("list", "gpus"),
    ("list", "methods"),
    ("list", "tasks"),
    ("list", "models"),
    ("list", "suites"),
    ("status", "--store", str(ROOT / "reports" / "ftbench.sqlite")),
)
BOUND_S = 1.5  # "about a second" on an idle 2-core machine, with room for the interpreter


def _run(args: tuple[str, ...]) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "run_all.py"), *args],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_command_answers_within_about_a_second(benchmark: Any, args: tuple[str, ...]) -> None:
    benchmark.pedantic(_run, args=(args,), rounds=3, warmup_rounds=1)
    assert benchmark.stats.stats.median < BOUND_S, (
        f"{' '.join(args)} took {benchmark.stats.stats.median:.2f} s"
    )

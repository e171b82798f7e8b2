"""Our messages: whole lines on the terminal (never cropped when piped) and in a log file."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text


class LoggedConsole(Console):
    """A rich console on stderr that does not wrap lines, and appends every text message
    (markup removed, a time stamp in front) to `log_path` once one is set."""

    def __init__(self, log_path: str | Path | None = None, **kwargs: Any) -> None:
        super().__init__(stderr=True, soft_wrap=True, **kwargs)
        self.log_path = Path(log_path) if log_path else None

    def print(self, *objects: Any, **kwargs: Any) -> None:
        super().print(*objects, **kwargs)
        if self.log_path is None or not objects:
            return
        if all(isinstance(o, str | Text) for o in objects):  # progress bars are not messages
            plain = " ".join(
                o.plain if isinstance(o, Text) else Text.from_markup(o).plain for o in objects
            )
            stamp = datetime.now().isoformat(sep=" ", timespec="seconds")
            try:
                self.log_path.parent.mkdir(parents=True, exist_ok=True)
                with self.log_path.open("a", encoding="utf-8") as log:
                    log.write(f"{stamp} {plain}\n")
            except OSError as exc:  # a folder this user cannot write: say so once, go on
                path, self.log_path = self.log_path, None
                super().print(
                    f"[yellow]note:[/yellow] no log: cannot write {path} ({exc.strerror})"
                )


def log_path_for(store: str | Path) -> Path:
    """The log beside a store: results/ftbench.log for results/ftbench.sqlite."""
    return Path(store).with_suffix(".log")


def reports_dir_for(store: str | Path) -> Path:
    """Where a store's reports go unless --out says otherwise: results/reports/ beside
    results/ftbench.sqlite, so a user's runs never overwrite the committed reports/."""
    return Path(store).parent / "reports"

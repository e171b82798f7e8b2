"""How a run's cells execute, as one typed object (the command line builds it; nothing below
the command line sees argparse)."""

from __future__ import annotations

from dataclasses import dataclass

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class ExecutionOptions:
    """Where and how cells run: plugins to load in each worker, a per-cell timeout, the
    executor (`local` slots or a `ray` cluster at `address`), GPUs or CPU workers, and the
    command line recorded with every cell."""

    plugins: tuple[str, ...] = ()
    timeout_s: float | None = None
    in_process: bool = False
    executor: str = "local"
    address: str | None = None
    gpus: tuple[str, ...] | None = None
    workers: int | None = None
    command: str | None = None

    def check(self, device: str) -> None:
        """Refuse what cannot be honoured, naming the options (ValueError)."""
        if self.executor not in EXECUTORS:
            raise ValueError(f"--executor {self.executor} is not one of: {', '.join(EXECUTORS)}")
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"--workers {self.workers:g} is not allowed: it must be >= 1")
        if self.timeout_s is not None and self.timeout_s <= 0:
            raise ValueError(f"--timeout {self.timeout_s:g} is not allowed: it must be > 0")
        if self.address and self.executor != "ray":
            raise ValueError("--address goes with --executor ray")
        several = self.executor == "ray" or self.gpus or (self.workers or 1) > 1
        if self.in_process and several:
            raise ValueError(
                "--in-process runs one cell at a time: drop --executor, --gpus, --workers"
            )
        if self.gpus and not device.startswith("cuda"):
            raise ValueError(
                f"--gpus {','.join(self.gpus)} needs --device cuda (the device is {device})"
            )

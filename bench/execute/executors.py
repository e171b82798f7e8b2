"""Where cells run: one at a time here (the inline executor, the default), local worker slots
(one per GPU, or CPU slots) or a Ray cluster; `make_executor` picks one from the options.

Each cell still runs in a fresh process of its own (bench.execute.worker.run_in_worker), so
memory and speed are measured per cell; an executor only decides how many run at once and
where. The driver (bench.execute.runner) claims, saves and reports every result as it arrives.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from queue import SimpleQueue
from typing import Any, Protocol

from bench.core.spec import CellSpec
from bench.core.status import Status
from bench.execute.options import ExecutionOptions
from bench.execute.worker import run_in_process, run_in_worker

StepFn = Callable[[int, int, float], None]


class Executor(Protocol):
    """Runs cells: `slots` at once; `submit` returns a handle (progress goes to `on_step`
    where the executor can report it); `wait_any` returns the handles that finished with
    their records."""

    slots: int

    def submit(self, spec: CellSpec, on_step: StepFn | None = None) -> Any: ...

    def wait_any(self, handles: list[Any]) -> list[tuple[Any, dict[str, Any]]]: ...

    def close(self) -> None: ...


class InlineExecutor:
    """One slot: a cell runs when its result is awaited, in a fresh worker process (or, for
    debugging, in this process), with its step progress reported."""

    slots = 1

    def __init__(
        self, plugins: Sequence[str] = (), timeout_s: float | None = None, in_process: bool = False
    ) -> None:
        self.plugins, self.timeout_s, self.in_process = list(plugins), timeout_s, in_process
        self._queued: dict[int, tuple[CellSpec, StepFn | None]] = {}
        self._handles = itertools.count()

    def submit(self, spec: CellSpec, on_step: StepFn | None = None) -> int:
        handle = next(self._handles)
        self._queued[handle] = (spec, on_step)
        return handle

    def wait_any(self, handles: list[int]) -> list[tuple[int, dict[str, Any]]]:
        handle = handles[0]
        spec, on_step = self._queued.pop(handle)
        if self.in_process:
            return [(handle, run_in_process(spec, on_step))]
        return [(handle, run_in_worker(spec, self.plugins, self.timeout_s, on_step))]

    def close(self) -> None:
        self._queued.clear()


def make_executor(options: ExecutionOptions, device: str) -> Executor:
    """The executor the options ask for; refuses combinations it cannot honour (ValueError
    naming the options)."""
    options.check(device)
    if options.executor == "ray":
        return RayExecutor(
            options.address, device.startswith("cuda"), options.plugins, options.timeout_s
        )
    if device.startswith("cuda"):
        import torch

        count = torch.cuda.device_count()
        gpus = list(options.gpus or [str(i) for i in range(count)])
        bad = [g for g in gpus if g.isdigit() and int(g) >= count]
        if bad:
            raise ValueError(f"--gpus {','.join(bad)}: this machine has GPUs 0..{count - 1}")
        if len(gpus) > 1 or options.gpus:
            return LocalExecutor(gpu_slots(gpus), options.plugins, options.timeout_s)
    elif (options.workers or 1) > 1:
        return LocalExecutor(cpu_slots(options.workers), options.plugins, options.timeout_s)
    return InlineExecutor(options.plugins, options.timeout_s, options.in_process)


def gpu_slots(gpus: Sequence[str]) -> list[dict[str, str]]:
    """One slot per GPU, each pinned with CUDA_VISIBLE_DEVICES (an index or a UUID)."""
    return [{"CUDA_VISIBLE_DEVICES": str(g)} for g in gpus]


def cpu_slots(workers: int, cores: int | None = None) -> list[dict[str, str]]:
    """`workers` CPU slots sharing the cores evenly (each cell's torch threads)."""
    cores = cores or os.cpu_count() or 1
    threads = str(max(1, cores // workers))
    return [{"OMP_NUM_THREADS": threads} for _ in range(workers)]


@dataclass
class LocalExecutor:
    """Slots on this machine: a thread per slot waits on one worker process at a time."""

    slot_envs: list[dict[str, str]]
    plugins: Sequence[str] = ()
    timeout_s: float | None = None
    _free: SimpleQueue = field(default_factory=SimpleQueue)
    _pool: ThreadPoolExecutor | None = None

    def __post_init__(self) -> None:
        if not self.slot_envs:
            raise ValueError("a local executor needs at least one slot")
        for env in self.slot_envs:
            self._free.put(env)
        self._pool = ThreadPoolExecutor(len(self.slot_envs), thread_name_prefix="ftbench-slot")

    @property
    def slots(self) -> int:
        return len(self.slot_envs)

    def _run(self, spec: CellSpec, on_step: StepFn | None) -> dict[str, Any]:
        env = self._free.get()
        try:
            return run_in_worker(spec, self.plugins, self.timeout_s, on_step, env=env)
        finally:
            self._free.put(env)

    def submit(self, spec: CellSpec, on_step: StepFn | None = None) -> Future:
        return self._pool.submit(self._run, spec, on_step)

    def wait_any(self, handles: list[Future]) -> list[tuple[Future, dict[str, Any]]]:
        done, _ = wait(handles, return_when=FIRST_COMPLETED)
        return [(h, h.result()) for h in done]

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def _ray_cell(spec_json: str, plugins: list[str], timeout_s: float | None) -> dict[str, Any]:
    """A Ray task: the cell in a fresh worker process of the Ray worker that got it (Ray has
    set CUDA_VISIBLE_DEVICES to the GPU it granted)."""
    return run_in_worker(CellSpec.from_json(spec_json), plugins, timeout_s)


class RayExecutor:
    """Cells as Ray tasks, each asking for one GPU (or `cpus_per_cell` CPUs). Ray is the
    distributed engine; results come back to the driver, which writes them."""

    def __init__(
        self,
        address: str | None,
        gpu: bool,
        plugins: Sequence[str] = (),
        timeout_s: float | None = None,
        cpus_per_cell: float = 1.0,
        init_kwargs: dict[str, Any] | None = None,
    ) -> None:
        try:
            import ray
        except ImportError:
            raise ValueError('--executor ray needs Ray: pip install -e ".[cluster]"') from None
        self.ray = ray
        if not ray.is_initialized():
            ray.init(address=address, log_to_driver=False, **(init_kwargs or {}))
        resources = ray.cluster_resources()
        if gpu and resources.get("GPU", 0) < 1:
            raise ValueError(f"the Ray cluster at {address or 'local'} has no GPU: {resources}")
        per_cell = {"num_gpus": 1} if gpu else {"num_cpus": cpus_per_cell}
        capacity = resources.get("GPU", 0) if gpu else resources.get("CPU", 1) / cpus_per_cell
        self.slots = max(1, int(capacity))
        self._remote = ray.remote(**per_cell, max_retries=0)(_ray_cell)
        self.plugins = [os.path.abspath(p) for p in plugins]
        self.timeout_s = timeout_s

    def submit(self, spec: CellSpec, on_step: StepFn | None = None) -> Any:
        return self._remote.remote(spec.to_json(), self.plugins, self.timeout_s)

    def wait_any(self, handles: list[Any]) -> list[tuple[Any, dict[str, Any]]]:
        done, _ = self.ray.wait(handles, num_returns=1)
        out = []
        for ref in done:
            try:
                record = self.ray.get(ref)
            except Exception as exc:  # noqa: BLE001 - a lost Ray worker is this cell's error
                first = (str(exc).strip().splitlines() or [""])[0]
                record = {
                    "status": Status.ERROR,
                    "error": f"Ray task failed: {type(exc).__name__}: {first}",
                }
            out.append((ref, record))
        return out

    def close(self) -> None:
        pass  # the driver's ray.init session ends with the process


def largest_first(cells: list[CellSpec], extra: dict[str, dict[str, Any]] | None) -> list[CellSpec]:
    """Cells by estimated device memory, largest first (so big cells do not wait at the end);
    cells without an estimate keep their order after them."""

    def need(spec: CellSpec) -> int:
        estimate = ((extra or {}).get(spec.cell_id) or {}).get("estimate") or {}
        return int(estimate.get("peak_device_bytes") or 0)

    return sorted(cells, key=need, reverse=True)

"""One cell in a process of its own: the worker's entry point, how it starts, how its death
is read (timeout, the OOM killer, a crash), and the in-process variant for debugging."""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.core.spec import CellSpec
from bench.core.status import Status

PROGRESS_EVERY_S = 0.2


def die_with_parent(parent_pid: int, started: float | None = None) -> None:
    """End this worker when its driver (`parent_pid`, started at `started`) ends, even by
    kill -9: the kernel's parent-death signal on Linux (the fork server, for CPU workers,
    ends with the driver), and a watchdog thread that looks for the driver itself."""
    import ctypes
    import sys
    import threading

    import psutil

    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except OSError:
            pass

    def driver_alive() -> bool:
        try:
            process = psutil.Process(parent_pid)
            return started is None or abs(process.create_time() - started) < 1.0
        except psutil.NoSuchProcess:
            return False

    def watch() -> None:
        while True:
            if not driver_alive():
                os._exit(1)
            time.sleep(1.0)

    if not driver_alive():
        os._exit(1)
    threading.Thread(target=watch, name="ftbench-parent-watchdog", daemon=True).start()


def _worker_main(
    spec_json: str,
    plugins: Sequence[str],
    out: Any,
    parent: tuple[int, float] | None = None,
    env: dict[str, str] | None = None,
) -> None:
    """Entry point of a worker process: run one cell, send progress and the record. `env` is
    the driver's environment with the slot's pins (CUDA_VISIBLE_DEVICES, OMP_NUM_THREADS),
    laid over this process's before CUDA or torch's threads start."""
    if parent:
        die_with_parent(*parent)
    os.environ.update(env or {})
    if "OMP_NUM_THREADS" in (env or {}):
        import torch

        torch.set_num_threads(int(env["OMP_NUM_THREADS"]))
    from bench.core.quiet import quiet_libraries

    quiet_libraries()  # before bench.cell.run imports bitsandbytes
    from bench.cell.run import failure_record, run_cell
    from bench.core.plugins import load_builtin_plugins, load_plugin_file

    last = [0.0]

    def on_step(step: int, total: int, loss: float) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY_S or step == total:
            last[0] = now
            out.put(("step", step, total, loss))

    try:
        load_builtin_plugins()
        for path in plugins:
            load_plugin_file(path)
        record = run_cell(CellSpec.from_json(spec_json), on_step=on_step, keep_state_in=kept_in())
    except BaseException as exc:  # every failure becomes a stored status, never a lost cell
        record = failure_record(exc)
    out.put(("done", record))


def kept_in() -> Path | None:
    """The folder `run --keep-states` keeps trained states in (set in the driver's environment
    before any worker starts), or None."""
    from bench.cell.kept_state import STATES_ENV

    folder = os.environ.get(STATES_ENV)
    return Path(folder) if folder else None


CGROUP_MEMORY_EVENTS = Path("/sys/fs/cgroup/memory.events")


def oom_kills() -> int | None:
    """The cgroup's count of processes the kernel's OOM killer ended (None if unreadable)."""
    try:
        for line in CGROUP_MEMORY_EVENTS.read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
    except (OSError, ValueError):
        pass
    return None


def _describe_exit(
    code: int | None, kills_before: int | None = None, kills_after: int | None = None
) -> tuple[str, str]:
    """A dead worker's status: host_oom when the kernel's OOM killer ended it (its cgroup
    counter rose, or SIGKILL where the counter cannot be read), else error."""
    if code is not None and code < 0:
        name = signal.Signals(-code).name
        if -code == signal.SIGKILL:
            if kills_before is not None and kills_after is not None:
                if kills_after > kills_before:
                    why = f"worker killed by {name}: the OOM killer (cgroup oom_kill)"
                    return Status.HOST_OOM, why
                return Status.ERROR, f"worker killed by {name} (not by the OOM killer)"
            why = f"worker killed by {name} (most likely the out-of-memory killer)"
            return Status.HOST_OOM, why
        return Status.ERROR, f"worker killed by {name}"
    return Status.ERROR, f"worker exited with code {code} before reporting a result"


def worker_context(device: str) -> Any:
    """How a cell's process starts. CPU cells fork from a server that has imported the
    libraries once (bench.execute.worker_preload); CUDA cells are spawned afresh, since CUDA state
    does not survive a fork."""
    if device == "cpu" and "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["bench.execute.worker_preload"])
        return ctx
    return mp.get_context("spawn")


def run_in_worker(
    spec: CellSpec,
    plugins: Sequence[str] = (),
    timeout_s: float | None = None,
    on_step: Any = None,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Run one cell in a fresh process (with `env` laid over its environment); a crash or a
    kill ends only this cell."""
    import psutil

    ctx = worker_context(spec.device)
    channel = ctx.Queue()
    parent = (os.getpid(), psutil.Process().create_time())
    proc = ctx.Process(
        target=_worker_main,
        args=(spec.to_json(), list(plugins), channel, parent, {**os.environ, **(env or {})}),
        name=f"ftbench-{spec.cell_id}",
    )
    start = time.monotonic()
    kills_before = oom_kills()
    proc.start()
    record: dict[str, Any] | None = None
    try:
        while record is None:
            try:
                message = channel.get(timeout=0.25)
            except queue.Empty:
                if not proc.is_alive():
                    try:  # the record may have arrived just as the process ended
                        message = channel.get(timeout=1.0)
                    except queue.Empty:
                        status, error = _describe_exit(proc.exitcode, kills_before, oom_kills())
                        record = {"status": status, "error": error}
                        break
                elif timeout_s is not None and time.monotonic() - start > timeout_s:
                    proc.kill()
                    record = {"status": Status.TIMEOUT, "error": f"cell exceeded {timeout_s:.0f} s"}
                    break
                else:
                    continue
            if message[0] == "step" and on_step is not None:
                on_step(*message[1:])
            elif message[0] == "done":
                record = message[1]
    finally:
        if proc.is_alive() and record is None:
            proc.kill()  # interrupted: leave nothing running, store nothing for this cell
        proc.join(timeout=30)
        if proc.is_alive():
            proc.kill()
            proc.join()
    return record


def release_memory() -> None:
    """Free what a finished in-process cell left: Python garbage, then the CUDA cache, so
    that the next cell's NVML baseline and allocator peaks start from nothing."""
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def run_in_process(spec: CellSpec, on_step: Any = None) -> dict[str, Any]:
    """Run one cell here (tests, debugging): no isolation, same record."""
    from bench.cell.run import failure_record, run_cell

    try:
        return run_cell(spec, on_step=on_step, keep_state_in=kept_in())
    except Exception as exc:
        return failure_record(exc)
    finally:
        release_memory()

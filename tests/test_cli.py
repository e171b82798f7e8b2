import pytest

from bench.cli.main import main


def test_list_methods_prints_a_table(capsys):
    assert main(["list", "methods"]) == 0
    out = capsys.readouterr().out
    assert "lora" in out and "bitfit" in out and "reparametrization" in out


def test_unknown_method_is_a_usage_error(capsys):
    assert main(["run", "--methods", "lroa", "--dry-run"]) == 2
    assert "Did you mean 'lora'" in capsys.readouterr().err


def test_dry_run_lists_the_default_cells(capsys, tmp_path):
    assert main(["--dry-run", "--store", str(tmp_path / "s.sqlite")]) == 0
    err = capsys.readouterr().out
    assert err.count("minilm / tweet_sentiment") == 9


def test_report_without_store_says_so(tmp_path, capsys):
    assert main(["report", "--store", str(tmp_path / "none.sqlite")]) == 2
    assert "no store" in capsys.readouterr().err


def test_bad_device_is_refused(capsys):
    assert main(["run", "--device", "tpu", "--dry-run"]) == 2
    assert "device 'tpu'" in capsys.readouterr().err


def test_run_twice_trains_once_and_prints_the_same_report(tmp_path, capsys):
    args = [
        "run",
        "--models",
        "tiny-bert",
        "--tasks",
        "synthetic_rule",
        "--methods",
        "bitfit",
        "--seeds",
        "1",
        "--in-process",
        "--store",
        str(tmp_path / "s.sqlite"),
        "--out",
        str(tmp_path),
    ]
    assert main(args) == 0
    first = capsys.readouterr()
    assert "ran: 1 ok" in first.err
    assert main(args) == 0
    second = capsys.readouterr()
    assert "nothing to train" in second.err
    assert first.out == second.out and "| bitfit" in first.out


@pytest.mark.parametrize("what", ["tasks", "models", "suites"])
def test_list_other_registries(what, capsys):
    assert main(["list", what]) == 0
    assert capsys.readouterr().out.strip()


def test_list_tasks_shows_size_kind_metric_and_offline(capsys):
    from bench.core.registry import TASKS

    assert main(["list", "tasks"]) == 0
    out = capsys.readouterr().out
    header = out.splitlines()[0]
    for column in ("kind", "size", "labels", "metric", "offline"):
        assert column in header
    for name, task in TASKS.items():
        line = next(line for line in out.splitlines() if line.startswith(f"| {name} "))
        assert task.kind in line and (f"{task.size:,}" in line if task.size else True)
    assert "| no (hub)" in out and "| yes" in out


def test_run_set_reaches_every_method_and_bad_keys_name_the_valid_ones(tmp_path, capsys):
    args = ["run", "--dry-run", "--store", str(tmp_path / "s.sqlite"), "--set", "ewc_lambda=5"]
    assert main(args) == 0
    assert capsys.readouterr().out.count("ewc_lambda=5") == 9
    assert main(["run", "--dry-run", "--set", "ewc_lambda=5", "--set", "rank=3"]) == 2
    err = capsys.readouterr().err
    assert "'rank': no method of this run" in err and "their settings: alpha" in err


def test_help_list_and_status_load_no_heavy_library(tmp_path):
    """`--help`, the parse, every `list` and `status` answer at once: they import neither torch
    nor transformers nor peft nor scikit-learn nor pandas (methods and tasks import those where
    a model is built or data is read; a subprocess, so the test session's imports do not count).
    """
    import subprocess
    import sys

    from bench.store.cell_store import Store

    store = tmp_path / "s.sqlite"
    Store(store).close()
    code = (
        "import sys, contextlib, io\n"
        "from bench.cli.main import build_parser, main\n"
        "build_parser().parse_args(['run', '--gpu', '4090', '--dry-run'])\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    for what in ('gpus', 'methods', 'tasks', 'models', 'suites'):\n"
        "        assert main(['list', what]) == 0\n"
        f"    assert main(['status', '--store', {str(store)!r}]) == 0\n"
        "heavy = ('torch', 'transformers', 'peft', 'sklearn', 'pandas')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"

"""A user's runs write reports and a log beside their store, never into the committed reports/."""

import pytest

from bench.cli.main import main
from bench.core.spec import MethodChoice, SuiteSpec
from bench.plan.suites import SUITES, register_suite


@pytest.fixture
def one_cell_suite():
    suite = register_suite(
        SuiteSpec(
            name="one-cell",
            models=("tiny-bert",),
            tasks=("synthetic_rule",),
            methods=(MethodChoice("bitfit"),),
            seeds=(0,),
            budget={"train_size": 200, "max_length": 32, "batch_size": 16, "max_steps": 4},
        )
    )
    yield suite
    SUITES.remove(suite.name)


def test_run_writes_reports_and_log_beside_the_store(one_cell_suite, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "results" / "ftbench.sqlite"
    assert main(["run", "--suite", "one-cell", "--in-process", "--store", str(store)]) == 0
    err = capsys.readouterr().err
    reports = tmp_path / "results" / "reports"
    assert (reports / "one-cell.md").is_file() and (reports / "claims.md").is_file()
    assert not (tmp_path / "reports").exists()
    assert f"report written to {reports / 'one-cell.md'}" in err
    report = (reports / "one-cell.md").read_text()
    assert f"--store {store} --out {reports}`" in report
    # every message is one whole line, on the terminal and in the log, whatever the width
    ok_line = next(line for line in err.splitlines() if line.startswith("ok "))
    assert "/ bitfit / seed 0: accuracy " in ok_line and ok_line.endswith(" s")
    log = (tmp_path / "results" / "ftbench.log").read_text().splitlines()
    assert any(line.endswith(ok_line) for line in log)
    assert any("suite 'one-cell': 1 cells on cpu" in line for line in log)


def test_report_defaults_beside_the_store_and_out_overrides(one_cell_suite, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = str(tmp_path / "mine" / "s.sqlite")
    assert main(["run", "--suite", "one-cell", "--in-process", "--store", store]) == 0
    assert main(["report", "--store", store]) == 0
    assert (tmp_path / "mine" / "reports" / "one-cell.md").is_file()
    assert main(["report", "--store", store, "--out", str(tmp_path / "elsewhere")]) == 0
    assert (tmp_path / "elsewhere" / "one-cell.md").is_file()
    assert not (tmp_path / "reports").exists()

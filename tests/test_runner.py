"""Worker processes: a failing, killed or hanging cell ends alone and is stored with a status."""

import textwrap

import pytest

from bench.core.plugins import load_plugin_file
from bench.core.registry import METHODS, MODELS
from bench.execute.runner import run_cells
from bench.execute.worker import _describe_exit, oom_kills
from tests.conftest import TINY_BERT
from tests.helpers import tiny_cell

PLUGIN = textwrap.dedent(
    f"""
    import os, signal, time
    from bench.models.sources import register_config_model
    from bench.core.registry import register_method

    register_config_model("plug-bert", {TINY_BERT!r})

    @register_method("explode", family="test", lr=1e-3)
    def explode(model, settings, ctx):
        raise RuntimeError("this method always fails")

    @register_method("die", family="test", lr=1e-3)
    def die(model, settings, ctx):
        os.kill(os.getpid(), signal.SIGKILL)

    @register_method("hang", family="test", lr=1e-3)
    def hang(model, settings, ctx):
        time.sleep(600)
    """
)


@pytest.fixture
def plugin(tmp_path):
    """The plugin file, registered here too (as `--plugin` does), so cells carry its version."""
    path = tmp_path / "plugin.py"
    path.write_text(PLUGIN)
    load_plugin_file(path)
    yield path
    for name in ("explode", "die", "hang"):
        METHODS.remove(name)
    MODELS.remove("plug-bert")


def test_failures_are_stored_and_the_suite_goes_on(plugin, store, capfd, tmp_path):
    cells = [
        tiny_cell("explode", model="plug-bert"),
        tiny_cell("die", model="plug-bert"),
        tiny_cell("bitfit", model="config:" + str(_llama_config(tmp_path))),
        tiny_cell("full", model="plug-bert"),
    ]
    summary = run_cells(cells, store, plugins=[str(plugin)], timeout_s=120)
    # a SIGKILL that the cgroup's OOM-kill counter does not account for is not an OOM
    killed = "error" if oom_kills() is not None else "host_oom"
    assert [s for _, s in summary.ran] == ["error", killed, "unsupported", "ok"]
    explode = store.get(cells[0].cell_id)
    assert "RuntimeError: this method always fails" in explode["error"]
    assert "this method always fails" in explode["result"]["traceback"]
    assert "SIGKILL" in store.get(cells[1].cell_id)["error"]
    assert "bias" in store.get(cells[2].cell_id)["error"]
    assert len(store.predictions(cells[3].cell_id)) == 200

    again = run_cells(cells, store, plugins=[str(plugin)], timeout_s=120)
    assert again.skipped == [cells[3]]  # ok is kept; failed cells are tried again
    workers_said = capfd.readouterr().err  # library noise a newcomer would take for an error
    assert "kernels" not in workers_said and "Warning" not in workers_said


def test_a_worker_killed_by_the_oom_killer_is_host_oom():
    assert _describe_exit(-9, 3, 4)[0] == "host_oom"
    assert _describe_exit(-9, 3, 3) == ("error", "worker killed by SIGKILL (not by the OOM killer)")
    assert _describe_exit(-9, None, None)[0] == "host_oom"  # no counter: SIGKILL, most likely
    assert _describe_exit(-15, 3, 4)[0] == "error"
    assert _describe_exit(1)[0] == "error"


def test_a_hanging_cell_times_out(plugin, store):
    cell = tiny_cell("hang", model="plug-bert")
    summary = run_cells([cell], store, plugins=[str(plugin)], timeout_s=10)
    assert [s for _, s in summary.ran] == ["timeout"]
    assert "exceeded 10 s" in store.get(cell.cell_id)["error"]


def _llama_config(tmp_path):
    import json

    from tests.conftest import TINY_LLAMA

    path = tmp_path / "tiny_llama.json"
    path.write_text(json.dumps(TINY_LLAMA))
    return path


def test_a_tagged_label_prints_whole():
    """Rich reads `[serving measured]` as a markup tag unless escaped: the tag must survive."""
    from rich.console import Console

    from bench.execute.runner import _result_line
    from tests.helpers import tiny_cell

    spec = tiny_cell("lora", inference=True)
    console = Console(record=True, width=300)
    record = {"status": "error", "error": "ValueError: [bad] value"}
    console.print(_result_line(spec, record))
    text = console.export_text()
    assert "[serving measured]" in text and "[bad] value" in text

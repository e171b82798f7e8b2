"""The regression gate end to end: a LoRA copy passes, a broken method fails."""

import shutil
import textwrap
from pathlib import Path

import pytest

from bench.cli.main import main
from bench.core.registry import METHODS

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "lora_copy_plugin.py"

BROKEN = textwrap.dedent(
    """
    from bench.core.registry import register_method
    from methods.lora import LORA_DEFAULTS, lora_on

    @register_method("frozen_lora", family="test", lr=0.0, defaults=LORA_DEFAULTS)
    def frozen_lora(model, settings, ctx):
        for p in model.parameters():
            p.requires_grad_(False)
        model = lora_on(model, settings, ctx)
        for p in model.parameters():  # a bug: nothing may learn, head included
            p.requires_grad_(False)
        next(iter(model.parameters())).requires_grad_(True)
        return model
    """
)


@pytest.fixture
def forget_plugin_methods():
    """Plugins register into this process's registry: take their methods out afterwards."""
    yield
    for name in ("my_lora", "frozen_lora"):
        METHODS.remove(name)


def test_copy_of_lora_passes_and_broken_method_fails(
    tmp_path, capsys, forget_plugin_methods, smoke_lora_store
):
    """The gate trains the candidate's cells; the LoRA baseline's (seeds 0-2 of the smoke
    suite) come from the session's store, as a rerun of `check` finds them stored."""
    store = str(tmp_path / "gate.sqlite")
    shutil.copyfile(smoke_lora_store, store)
    code = main(
        [
            "check",
            "--plugin",
            str(EXAMPLE),
            "--method",
            "my_lora",
            "--baselines",
            "lora",
            "--store",
            store,
            "--device",
            "cpu",
            "--in-process",  # the same cells without a worker's start-up each (suite time)
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "| synthetic_rule | config:tiny-bert | lora" in out and "non-inferior" in out
    assert "verdict: PASS" in out

    broken = tmp_path / "broken.py"
    broken.write_text(BROKEN)
    code = main(
        [
            "check",
            "--plugin",
            str(broken),
            "--method",
            "frozen_lora",
            "--baselines",
            "lora",
            "--store",
            store,
            "--device",
            "cpu",
            "--in-process",  # the same cells without a worker's start-up each (suite time)
        ]
    )
    out = capsys.readouterr().out
    assert code == 1, out
    assert "NOT non-inferior" in out and "verdict: FAIL" in out


def test_usage_errors_exit_2(tmp_path, capsys):
    store = str(tmp_path / "gate.sqlite")
    assert main(["check", "--method", "nope", "--store", store]) == 2
    assert "unknown method 'nope'" in capsys.readouterr().err
    assert main(["check", "--method", "lora", "--baselines", "lora", "--store", store]) == 2
    assert "also named as a baseline" in capsys.readouterr().err
    assert main(["check", "--method", "lora", "--plugin", "missing.py", "--store", store]) == 2
    assert "does not exist" in capsys.readouterr().err
    args = ["check", "--method", "lora", "--baselines", "full", "--latency-budget", "0"]
    assert main([*args, "--store", store]) == 2
    assert "--latency-budget 0 is not allowed: it must be > 0" in capsys.readouterr().err


def test_a_latency_budget_runs_the_cells_with_their_serving_stage(tmp_path, capsys):
    """One seed each (the accuracy test cannot pass with one): the serving table is printed
    from cells run with --inference, and a budget no model meets fails the gate."""
    from bench.core.spec import MethodChoice, SuiteSpec
    from bench.plan.suite_registry import SUITES, register_suite

    register_suite(
        SuiteSpec(
            name="gate-serving-test",
            description="one tiny seed per method",
            models=("config:tiny-bert",),
            tasks=("synthetic_rule",),
            methods=(MethodChoice("lora"), MethodChoice("full", lr=1e-3)),
            seeds=(0,),
            budget={"train_size": 64, "max_length": 32, "batch_size": 16, "max_steps": 2},
        )
    )
    try:
        args = ["check", "--method", "lora", "--baselines", "full", "--suite", "gate-serving-test"]
        store = str(tmp_path / "gate.sqlite")
        code = main([*args, "--latency-budget", "0.001", "--store", store, "--in-process"])
    finally:
        SUITES.remove("gate-serving-test")
    out = capsys.readouterr().out
    assert code == 1, out
    assert "Serving budget: lora's served model" in out
    assert "| synthetic_rule | config:tiny-bert | merged   | 1       |" in out
    assert "OVER budget" in out

"""Bad input is refused before any training, exit 2, naming the bad value and the valid ones;
a run whose cells fail exits 1 with the table of failures."""

from __future__ import annotations

import textwrap

import pytest
import torch

from bench.cli.main import main
from bench.plan.validate import check_setting

DRY = ["run", "--models", "tiny-bert", "--tasks", "synthetic_rule", "--dry-run"]


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--methods", "lora", "--set", "r=0"], "r=0 must be an integer >= 1"),
        (["--methods", "lora", "--set", "r=-3"], "r=-3 must be an integer >= 1"),
        (["--methods", "lora", "--set", "dropout=1.5"], "0 <= dropout < 1"),
        (["--methods", "lora", "--set", "targets=q,zz"], "'zz', which no architecture has"),
        (
            ["--models", "config:tiny-bert", "--methods", "lora", "--set", "targets=q,gate"],
            "'gate', which config:tiny-bert (bert) does not have; its roles: q, k, v, o, up, down",
        ),
        (["--methods", "qlora", "--set", "quant_type=int3"], "one of nf4, fp4"),
        (["--methods", "sparse", "--set", "fraction=2"], "0 < fraction <= 1"),
        (["--set", "ewc_lambda=-1"], "ewc_lambda=-1 must be a number >= 0"),
        (["--seeds", "0"], "--seeds 0 is not allowed: it must be >= 1"),
        (["--seeds", "-2"], "--seeds -2 is not allowed"),
        (["--train-size", "-5"], "train_size -5 is not allowed: it must be >= 1"),
        (["--batch-size", "0"], "batch_size 0 is not allowed"),
        (["--timeout", "0"], "--timeout 0 is not allowed: it must be > 0"),
        (["--early-stopping", "2"], "set --eval-every N as well"),
        (["--shots", "0"], "shots 0 is not allowed: it must be >= 1"),
        (["--grad-accumulation", "0"], "grad_accumulation 0 is not allowed"),
        (["--models", "minilmm"], "unknown model 'minilmm'"),
    ],
)
def test_bad_run_input_exits_2_before_training(extra, says, capsys, tmp_path):
    args = [*DRY, "--store", str(tmp_path / "s.sqlite"), *extra]
    if "--models" in extra:
        args = args[:1] + args[3:]  # the bad model replaces tiny-bert
    assert main(args) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert says in err
    assert not (tmp_path / "s.sqlite").exists()  # refused before the store was opened


def test_good_settings_pass():
    check_setting("lora", "r", 16)
    check_setting("lora", "targets", "all-linear")
    check_setting("lora", "targets", ("q", "v"))
    check_setting("freeze", "fraction", None)  # freeze's fraction is optional (layers instead)
    check_setting("sparse", "selection", "fisher")


def test_each_method_declares_a_rule_for_every_setting_and_its_own_rules_apply():
    from bench.core.registry import METHODS

    for name, info in METHODS.items():
        if info.builtin:
            assert set(info.defaults) <= set(info.rules), name
            for setting, value in info.defaults.items():
                check_setting(name, setting, value)  # every default passes its own rule
    with pytest.raises(ValueError, match="sparse: setting fraction=None must be a number"):
        check_setting("sparse", "fraction", None)  # sparse needs a fraction; freeze does not
    with pytest.raises(ValueError, match="one of relu, gelu, swish"):
        check_setting("houlsby", "activation", "tanh")  # refused before it trains


def test_a_negative_margin_is_refused(capsys):
    assert main(["check", "--method", "lora", "--margin", "-1"]) == 2
    assert "--margin -1 is not allowed" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_a_device_this_machine_lacks_is_refused(capsys, tmp_path):
    args = ["run", "--device", "cuda", "--models", "tiny-bert", "--store", str(tmp_path / "s")]
    assert main(args) == 2
    assert "has no CUDA device" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_a_run_with_failed_cells_exits_1_with_their_table(tmp_path, capsys):
    plugin = tmp_path / "plugin.py"
    plugin.write_text(
        textwrap.dedent(
            """
            from bench.core.registry import register_method

            @register_method("explode-exit", family="test", lr=1e-3)
            def explode(model, settings, ctx):
                raise RuntimeError("this method always fails")
            """
        )
    )
    args = [
        "run",
        "--models",
        "tiny-bert",
        "--tasks",
        "synthetic_rule",
        "--methods",
        "explode-exit",
        "--seeds",
        "1",
        "--train-size",
        "64",
        "--in-process",
        "--plugin",
        str(plugin),
        "--store",
        str(tmp_path / "s.sqlite"),
        "--out",
        str(tmp_path),
    ]
    try:
        assert main(args) == 1
    finally:
        from bench.core.registry import METHODS

        METHODS._entries.pop("explode-exit", None)
    err = " ".join(capsys.readouterr().err.split())
    assert "1 cell(s) failed" in err and "this method always fails" in err

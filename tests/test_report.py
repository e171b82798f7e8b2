from bench.core.spec import MethodChoice, SuiteSpec
from bench.execute.runner import run_cells
from bench.plan.suites import expand
from bench.report.cells_table import cells_frame
from bench.report.suite_page import method_table, suite_report
from bench.stats.collapse import with_failure_modes

SUITE = SuiteSpec(
    name="tiny",
    models=("tiny-bert", "tiny-llama"),
    tasks=("synthetic_rule",),
    methods=(MethodChoice("full"), MethodChoice("lora"), MethodChoice("bitfit")),
    seeds=(0, 1),
    budget={"train_size": 100, "max_length": 32, "batch_size": 16, "max_steps": 5},
)


def test_report_has_a_row_per_method_and_lists_failures(store):
    cells = expand(SUITE, "cpu")
    assert len(cells) == 2 * 3 * 2
    run_cells(cells, store, in_process=True)
    text = suite_report(SUITE, cells, store, "python run_all.py run --suite tiny")
    assert "## synthetic_rule on tiny-bert" in text and "## synthetic_rule on tiny-llama" in text
    assert "`python run_all.py run --suite tiny`" in text
    assert "(12 of 12 cells stored)" in text

    from bench.report.summary import summary_page

    summary = summary_page(store, [("tiny", SUITE, cells)], "python run_all.py report")
    assert "## Which method for which situation" in summary and "## Not measured yet" in summary
    assert "[synthetic_rule on tiny-bert](tiny.md#synthetic_rule-on-tiny-bert)" in summary
    assert "`full` " in summary and "no GPU" in summary
    bert_part = text.split("## synthetic_rule on tiny-llama")[0]
    for method in ("full", "lora", "bitfit"):
        assert f"| {method} " in bert_part
    llama_part = text.split("## synthetic_rule on tiny-llama")[1]
    assert "Cells that did not finish" in llama_part and "unsupported" in llama_part
    assert text == suite_report(SUITE, cells, store, "python run_all.py run --suite tiny")


def test_method_table_aggregates_over_seeds(store):
    cells = expand(SUITE, "cpu", models=["tiny-bert"])
    run_cells(cells, store, in_process=True)
    frame = cells_frame(store.cells([c.cell_id for c in cells]))
    table = method_table(frame).set_index("method")
    assert list(table["seeds"]) == [2, 2, 2]
    assert table.loc["full", "x speed vs full (higher: faster)"] == "1.00"
    assert table.loc["lora", "x speed vs full (higher: faster)"].endswith("(separate runs)")
    assert table.loc["full", "trainable %"] == "100.000"
    flagged = with_failure_modes(frame)
    for method in ("full", "lora", "bitfit"):  # the mean is over the seeds that did not collapse
        mine = flagged[flagged["method"] == method]
        healthy = mine[~mine["collapsed"]]["metric"]
        shown = table.loc[method, "accuracy mean ± sd"]
        if len(healthy) == 2:
            assert shown == f"{healthy.mean():.4f} ± {healthy.std(ddof=1):.4f}"
        elif len(healthy) == 1:
            assert shown == f"{healthy.mean():.4f}"
        else:
            assert shown == "collapsed"
        if mine["collapsed"].any():
            assert "seeds collapsed" in table.loc[method, "failures"]
    assert table.loc["full", "J/sample"] == "n/a" or float(table.loc["full", "J/sample"]) > 0


def test_generation_report_compares_method_level_and_shows_forgetting_and_ewc(store):
    from bench.core.spec import freeze_settings

    suite = SuiteSpec(
        name="tiny-sft",
        models=("tiny-llama",),
        tasks=("synthetic_reverse",),
        methods=(
            MethodChoice("full", lr=3e-3),
            MethodChoice("full", freeze_settings({"ewc_lambda": 10.0}), lr=3e-3),
            MethodChoice("lora", lr=3e-3),
        ),
        seeds=(0, 1),
        budget={
            "train_size": 100,
            "max_length": 32,
            "batch_size": 16,
            "max_steps": 3,
            "max_new_tokens": 4,
        },
    )
    cells = expand(suite, "cpu")
    run_cells(cells, store, in_process=True)
    text = suite_report(suite, cells, store, "python run_all.py run --suite tiny-sft")
    assert "| full + EWC λ=10 " in text and "| lora " in text
    assert "rouge_l mean ± sd" in text and "in rouge_l, the mean over seed-paired" in text
    header = next(line for line in text.splitlines() if line.startswith("| method "))
    assert "| p (Holm, family of the budget) " in header and "| seeds for 80% power " in header
    assert "forgetting: LM loss Δ" in text and "embedding drift" in text
    assert "| test perplexity (response tokens, mean) " in header  # the suite's description says so
    assert "Majority-class" not in text and "Synthetic data" in text


def test_the_hardware_line_names_every_machine_and_skips_cells_without_hardware():
    """A plugin's error cell stores no hardware: it does not make the header read `CPU: ?`;
    cells from two machines are both named, with their counts."""
    from bench.report.suite_page import _hardware_line

    def env(cpu: str) -> dict:
        hw = {"cpu": cpu, "cpu_threads": 2}
        return {"hardware": hw, "python": "3.11.9", "libraries": {"torch": "2.13.0"}}

    xeon, epyc = env("Intel Xeon"), env("AMD EPYC")
    plugin_error = {"env": {"git_commit": "abc"}}
    line = _hardware_line([{"env": xeon}, {"env": xeon}, {"env": epyc}, plugin_error])
    assert "CPU: Intel Xeon, 2 threads (2 cells); CPU: AMD EPYC, 2 threads (1 cells)" in line
    assert "?" not in line and "None" not in line and "Python 3.11.9" in line
    assert _hardware_line([plugin_error]) == "unknown"


def test_a_suite_page_never_pools_two_configurations_of_one_method(store):
    """Two settings of one method at one budget are two rows, each named by what differs."""
    import dataclasses

    import numpy as np

    from bench.core.spec import SuiteSpec, freeze_settings
    from bench.report.suite_page import suite_report
    from tests.helpers import tiny_cell
    from tests.test_compare import _record

    labels = np.arange(30) % 3
    cells = []
    for factor, skill in ((16, 0.9), (64, 0.5)):
        for seed in (0, 1):
            spec = tiny_cell("houlsby", seed=seed)
            settings = dict(spec.settings) | {"reduction_factor": factor}
            spec = dataclasses.replace(spec, settings=freeze_settings(settings))
            preds = np.where(np.arange(30) < 30 * skill, labels, (labels + 1) % 3)
            store.save(spec, _record(preds, labels, float((preds == labels).mean())))
            cells.append(spec)
    suite = SuiteSpec("pair", ("tiny-bert",), ("synthetic_rule",), ())
    page = suite_report(suite, cells, store, "test")
    rows = [line for line in page.splitlines() if line.startswith("| houlsby")]
    assert len(rows) == 2
    (narrow,) = [r for r in rows if "reduction_factor=16" in r]
    (wide,) = [r for r in rows if "reduction_factor=64" in r]
    assert "0.9000 ± 0.0000" in narrow and "0.5000 ± 0.0000" in wide

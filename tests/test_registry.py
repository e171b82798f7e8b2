from pathlib import Path

import pytest

from bench.core.errors import UnknownName
from bench.core.registry import METHODS, MODELS, TASKS, Registry
from bench.plan.suites import SUITES


def test_unknown_method_names_valid_ones_and_nearest():
    with pytest.raises(UnknownName) as err:
        METHODS.get("lroa")
    text = str(err.value)
    assert "Did you mean 'lora'?" in text
    for name in ("full", "lora", "bitfit"):
        assert name in text


def test_unknown_task_and_model_and_suite_are_errors():
    with pytest.raises(UnknownName, match="Did you mean 'tweet_sentiment'"):
        TASKS.get("tweet_sentimnt")
    with pytest.raises(UnknownName, match="Valid models: .*minilm"):
        MODELS.get("bert-huge")
    with pytest.raises(UnknownName, match="Valid suites: .*default"):
        SUITES.get("nope")


def test_far_name_gets_no_suggestion():
    with pytest.raises(UnknownName) as err:
        METHODS.get("zzzzzzzz")
    assert "Did you mean" not in str(err.value)


def test_duplicate_registration_is_refused():
    reg: Registry[int] = Registry("thing")
    reg.add("a", 1)
    with pytest.raises(ValueError, match="registered twice"):
        reg.add("a", 2)


def test_unknown_setting_lists_the_valid_ones():
    lora = METHODS.get("lora")
    with pytest.raises(ValueError, match="no setting 'rank'.*alpha, dropout, r, targets"):
        lora.resolve_settings({"rank": 4})
    assert lora.resolve_settings({"r": 4})["r"] == 4
    assert lora.resolve_settings(None)["r"] == 8


def test_methods_suite_covers_every_registered_method_in_the_declared_order():
    import methods
    from bench.plan.suites import all_methods

    names = [m.name for m in all_methods()]
    builtin = [n for n, m in METHODS.items() if m.builtin]
    assert sorted(names) == sorted(builtin)
    assert [m.name for m in SUITES.get("methods").methods] == names
    assert names[:3] == ["full", "freeze", "bitfit"]  # methods.__all__'s order, not A-Z
    found = {p.stem for p in Path(methods.__file__).parent.glob("*.py")} - {"__init__"}
    assert sorted(methods.__all__) == sorted(found)  # every method module is declared

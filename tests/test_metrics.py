"""Task metrics agree with scikit-learn and scipy on small hand-made cases."""

import pytest
from scipy import stats
from sklearn.metrics import f1_score, matthews_corrcoef

from bench.evaluate.metrics import compute_metrics, majority_baseline

Y = [0, 0, 1, 1, 2, 2, 2, 1]
P = [0, 1, 1, 1, 2, 0, 2, 2]


def test_classification_metrics_match_sklearn():
    out = compute_metrics(["accuracy", "macro_f1", "mcc"], Y, P)
    assert out["accuracy"] == pytest.approx(5 / 8)
    assert out["macro_f1"] == pytest.approx(f1_score(Y, P, average="macro"))
    assert out["mcc"] == pytest.approx(matthews_corrcoef(Y, P))


def test_regression_metrics_match_scipy():
    y = [0.0, 1.5, 2.0, 3.5, 5.0, 4.0]
    p = [0.5, 1.0, 2.5, 3.0, 4.0, 4.5]
    out = compute_metrics(["pearson", "spearman", "mse"], y, p)
    assert out["pearson"] == pytest.approx(stats.pearsonr(y, p).statistic)
    assert out["spearman"] == pytest.approx(stats.spearmanr(y, p).statistic)
    assert out["mse"] == pytest.approx(sum((a - b) ** 2 for a, b in zip(y, p, strict=True)) / 6)


def test_generation_means_and_unknown_metric():
    assert compute_metrics(["rouge_l"], [0, 0], [0.5, 0.25]) == {"rouge_l": 0.375}
    with pytest.raises(ValueError, match="unknown metric"):
        compute_metrics(["f2"], Y, P)
    assert majority_baseline([2, 2, 1], Y) == pytest.approx(3 / 8)


def test_macro_f1_is_sklearns_exactly_including_absent_and_never_predicted_classes():
    import numpy as np
    from sklearn.metrics import f1_score

    from bench.evaluate.metrics import macro_f1

    rng = np.random.default_rng(0)
    for classes in (2, 3, 20):
        for _ in range(20):
            y = rng.integers(0, classes, 50)
            p = np.where(rng.random(50) < 0.6, y, rng.integers(0, classes + 1, 50))
            want = f1_score(y, p, average="macro", zero_division=0)
            assert macro_f1(y, p) == pytest.approx(want, abs=1e-12)
    assert macro_f1([0, 0, 1], [0, 0, 0]) == pytest.approx(
        f1_score([0, 0, 1], [0, 0, 0], average="macro", zero_division=0)
    )

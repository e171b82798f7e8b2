"""Simulated per-example correctness of trained model instances, with realistic seed noise.

Each test example has its own chance of being right for an average instance of a method
(Beta-distributed: most examples easy or hard, some near the boundary, which are the ones that
flip between seeds); each trained instance (method x seed) shifts every example's logit by its
own ability. Seed s of both methods shares a part of that shift (same data order). Used to
calibrate the method-level test: tests/test_method_level.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, logit


@dataclass(frozen=True)
class SeedNoise:
    """accuracy: of an average instance; ability_sd: per-instance logit shift (seed-to-seed
    spread); concentration: of the Beta over examples (lower: fewer examples flip);
    shared: the part of the ability variance that seed s of both methods shares."""

    accuracy: float = 0.7
    ability_sd: float = 0.2
    concentration: float = 0.55
    shared: float = 0.5
    example_sd: float = 0.0  # methods that differ per example, not on average (see below)


def simulate_pair(
    rng: np.random.Generator,
    seeds: int,
    examples: int,
    noise: SeedNoise = SeedNoise(),
    difference: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Correctness (seeds, examples) of method A and method B on one fresh test set; B's
    instances are shifted by `difference` in logit (0: an A/A pair). With
    `noise.example_sd`, each example also favours A or B by a symmetric random logit offset
    v: A gets -v/2, B +v/2, so the methods differ on every test set but not on average over
    test sets (a null that only a test with a test-set term keeps at its level)."""
    k = noise.concentration
    p = rng.beta(noise.accuracy * k, (1 - noise.accuracy) * k, size=examples)
    base = logit(np.clip(p, 1e-6, 1 - 1e-6))
    favour = rng.normal(0, noise.example_sd, size=examples) / 2
    common = rng.normal(0, noise.ability_sd * np.sqrt(noise.shared), size=(seeds, 1))
    own_sd = noise.ability_sd * np.sqrt(1 - noise.shared)
    out = []
    for shift, side in ((0.0, -favour), (difference, favour)):
        ability = common + rng.normal(0, own_sd, size=(seeds, 1)) + shift
        out.append((rng.random((seeds, examples)) < expit(base + side + ability)).astype(float))
    return out[0], out[1]


def seed_sd_and_flips(correct: np.ndarray) -> tuple[float, float]:
    """Seed-to-seed sd of accuracy and the mean share of examples whose correctness differs
    between two seeds: the two figures the simulation is matched to real runs by."""
    accuracy = correct.mean(axis=1)
    seeds = len(correct)
    flips = [
        float((correct[i] != correct[j]).mean()) for i in range(seeds) for j in range(i + 1, seeds)
    ]
    return float(accuracy.std(ddof=1)), float(np.mean(flips))

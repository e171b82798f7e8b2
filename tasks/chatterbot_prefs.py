"""Preference pairs built from the chatterbot SFT pairs: a prompt's own response is chosen over
another topic's response.

No wheel on the package index carries human preference pairs: the PyPI list was searched for
HH-RLHF, SHP, UltraFeedback, "preference dataset", "RLHF" and "DPO" (inverse-cai 0.4.8, the one
candidate that mentions pairwise preferences, ships no data). What a model learns here is
relevance (this reply answers this prompt), not helpfulness or harmlessness as raters judge it.
"""

from __future__ import annotations

import numpy as np

from bench.core.registry import register_task
from bench.data.splits import RawData
from tasks.chatterbot_sft import TOPICS, load_chatterbot_sft

PAIR_SEED = 4321  # fixes which other-topic response each prompt is paired against


@register_task(
    "chatterbot_prefs",
    kind="preference",
    labels=TOPICS,
    metric="reward_accuracy",
    metrics=("reward_accuracy", "reward_margin"),
    source=(
        "built from packaged chatterbot-corpus 1.3.3: chosen = a prompt's first reply (one pair "
        "per distinct prompt), rejected = a reply drawn (seed 4321) from another topic"
    ),
    val_size=50,  # scoring a pair takes two sequences through policy and reference
    test_size=150,
    size=1042,
)
def load_chatterbot_prefs() -> RawData:
    """Chatterbot's prompts, each one's first reply chosen over a reply from another topic.

    A prompt that opens many conversations (tech_support's "My printer is not printing." opens
    121) keeps its first reply only, so that no prompt outweighs the others. The rejected reply
    is drawn uniformly (seed 4321) from the kept pairs of the other 20 topics.
    """
    sft = load_chatterbot_sft()
    first: dict[str, int] = {}
    for i, prompt in enumerate(sft.texts):
        first.setdefault(prompt.strip().lower(), i)
    kept = sorted(first.values())
    prompts = [sft.texts[i] for i in kept]
    responses = [(sft.responses or [])[i] for i in kept]
    topics = np.asarray([sft.labels[i] for i in kept])
    rng = np.random.default_rng(PAIR_SEED)
    rejected = [responses[int(rng.choice(np.flatnonzero(topics != t)))] for t in topics]
    return RawData(
        texts=prompts,
        labels=topics.tolist(),
        label_names=sft.label_names,
        responses=responses,
        rejected=rejected,
    )

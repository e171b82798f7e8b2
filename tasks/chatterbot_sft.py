"""Instruction-style SFT from the chatterbot English prompt / response pairs (21 topics)."""

from __future__ import annotations

import yaml

from bench.core.registry import register_task
from bench.data.assets import asset_path
from bench.data.splits import RawData

TOPICS = (
    "ai",
    "botprofile",
    "coding",
    "computers",
    "conversations",
    "emotion",
    "food",
    "gossip",
    "greetings",
    "health",
    "history",
    "humor",
    "literature",
    "money",
    "movies",
    "politics",
    "psychology",
    "science",
    "sports",
    "tech_support",
    "trivia",
)


@register_task(
    "chatterbot_sft",
    kind="generation",
    labels=TOPICS,
    metric="rouge_l",
    metrics=("rouge_l", "bleu", "perplexity"),
    source="packaged: chatterbot-corpus 1.3.3 (data/english/*.yml, consecutive turns)",
    val_size=100,
    test_size=200,
    size=2393,
)
def load_chatterbot_sft() -> RawData:
    """Each pair of consecutive turns of a conversation is a prompt and its response.

    The topic (file) stratifies the split; a prompt with several responses stays in one part.
    """
    root = asset_path("chatterbot-corpus")
    prompts, responses, topics = [], [], []
    for topic, name in enumerate(TOPICS):
        data = yaml.safe_load((root / f"{name}.yml").read_text(encoding="utf-8"))
        for turns in data["conversations"]:
            turns = [str(t) for t in turns]
            for prompt, response in zip(turns, turns[1:], strict=False):
                prompts.append(prompt)
                responses.append(response)
                topics.append(topic)
    return RawData(texts=prompts, labels=topics, label_names=TOPICS, responses=responses)

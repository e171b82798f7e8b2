"""Dynamic masking (the guide's "dynamic mask fine-tuning" for sequence labelling): each
training batch has a fraction of its input tokens replaced by the mask token, drawn anew for
every batch from the cell's seed; special tokens and padding are never masked, labels never
change, so the model must tag a word from its context when the word itself is hidden."""

from __future__ import annotations

from collections.abc import Iterable

import torch

MASKABLE_KINDS = ("classification", "regression", "token")  # labels apart from the inputs


class DynamicMask:
    """`mask(batch, position)`: the batch with its input ids masked for the `position`-th
    micro-batch of the cell (the same draw for the same cell and position, whatever ran
    before it)."""

    def __init__(self, fraction: float, mask_id: int, special_ids: Iterable[int], seed: int):
        if not 0 < fraction < 1:
            raise ValueError(f"dynamic mask fraction {fraction:g}: it must be > 0 and < 1")
        self.fraction, self.mask_id, self.seed = fraction, mask_id, seed
        self.special = torch.tensor(sorted(set(special_ids)), dtype=torch.long)
        self.masked = self.maskable = 0  # counted over the cell, for its record

    def mask(self, batch: dict[str, torch.Tensor], position: int) -> dict[str, torch.Tensor]:
        ids = batch["input_ids"]
        maskable = ~torch.isin(ids, self.special)
        if "attention_mask" in batch:
            maskable &= batch["attention_mask"].bool()
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + position)
        chosen = (torch.rand(ids.shape, generator=generator) < self.fraction) & maskable
        self.masked += int(chosen.sum())
        self.maskable += int(maskable.sum())
        return {**batch, "input_ids": ids.masked_fill(chosen, self.mask_id)}

    def record(self) -> dict[str, float | int]:
        """What the cell's record keeps: the fraction asked for and the share masked."""
        return {
            "fraction": self.fraction,
            "masked_tokens": self.masked,
            "maskable_tokens": self.maskable,
            "masked_share": self.masked / self.maskable if self.maskable else 0.0,
        }


def dynamic_mask_for(fraction: float | None, tokenizer: object, seed: int) -> DynamicMask | None:
    """The cell's masking, or None without --dynamic-mask; a tokenizer with no mask token
    cannot honour it (refused by name)."""
    if fraction is None:
        return None
    from bench.core.errors import Unsupported

    mask_id = getattr(tokenizer, "mask_token_id", None)
    if mask_id is None:
        raise Unsupported(
            f"--dynamic-mask {fraction:g}: the tokenizer ({type(tokenizer).__name__}) has no "
            "mask token"
        )
    return DynamicMask(fraction, mask_id, tokenizer.all_special_ids, seed)

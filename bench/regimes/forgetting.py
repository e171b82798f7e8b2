"""How much a fine-tuned model forgot: LM loss and sentence-embedding drift on general text."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from bench.core.oom import is_device_oom
from bench.data.splits import IGNORE, Encoded, collate
from bench.models.sources import DECODER_TYPES


def backbone_and_lm_head(model: nn.Module) -> tuple[nn.Module, Any]:
    """The transformer body under any wrapper, and a function hidden -> vocabulary logits.

    The LM head is the model's own `lm_head`, or the input embedding where the config ties
    them (SmolLM2); encoders loaded for classification have none (None).
    """
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    body = getattr(base, base.base_model_prefix, None)
    if body is None:
        raise ValueError(f"{type(base).__name__} has no `{base.base_model_prefix}` backbone")
    head = getattr(base, "lm_head", None)
    if head is not None:
        return body, head
    tied = getattr(base.config, "tie_word_embeddings", False)
    if tied and base.config.model_type in DECODER_TYPES:  # BERT's MLM head has its own transform
        embedding = base.get_input_embeddings()
        return body, lambda hidden: hidden @ embedding.weight.T
    return body, None


def encode_texts(tokenizer: Any, texts: list[str], max_length: int) -> list[list[int]]:
    return [list(x) for x in tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]]


def lm_loss_terms(
    body: nn.Module, head: Any, ids: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(summed next-token loss, number of predicted tokens) of a padded batch."""
    hidden = body(input_ids=ids, attention_mask=mask).last_hidden_state
    logits = head(hidden).float()[:, :-1]
    targets = ids[:, 1:].masked_fill(mask[:, 1:] == 0, IGNORE)
    loss = F.cross_entropy(
        logits.reshape(-1, logits.size(-1)),
        targets.reshape(-1),
        ignore_index=IGNORE,
        reduction="sum",
    )
    return loss, (targets != IGNORE).sum()


def padded_batches(
    ids: list[list[int]], pad_id: int, device: torch.device, size: int = 8
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(input ids, attention mask) of right-padded batches of `size` texts, on `device`."""
    unlabeled = Encoded(input_ids=ids, labels=[0] * len(ids))
    for start in range(0, len(ids), size):
        batch = collate(unlabeled, list(range(start, min(start + size, len(ids)))), pad_id)
        yield batch["input_ids"].to(device), batch["attention_mask"].to(device)


@torch.no_grad()
def general_text_state(
    model: nn.Module, ids: list[list[int]], pad_id: int, device: torch.device
) -> dict[str, Any]:
    """LM loss per token (None without an LM head) and mean-pooled embeddings of `ids`."""
    was_training = model.training
    model.eval()
    body, head = backbone_and_lm_head(model)
    loss_sum, tokens, pooled = 0.0, 0, []
    for batch, mask in padded_batches(ids, pad_id, device):
        hidden = body(input_ids=batch, attention_mask=mask).last_hidden_state.float()
        weights = mask.unsqueeze(-1).float()
        pooled.append(((hidden * weights).sum(1) / weights.sum(1)).cpu())
        if head is not None:
            loss, n = lm_loss_terms(body, head, batch, mask)
            loss_sum, tokens = loss_sum + float(loss), tokens + int(n)
    model.train(was_training)
    return {
        "lm_loss": loss_sum / tokens if head is not None and tokens else None,
        "embeddings": torch.cat(pooled),
    }


def forgetting(before: dict[str, Any], after: dict[str, Any], source: str) -> dict[str, Any]:
    """The record: LM loss before / after and its increase; embedding cosine and drift."""
    cosine = float(F.cosine_similarity(before["embeddings"], after["embeddings"], dim=-1).mean())
    lm_before, lm_after = before["lm_loss"], after["lm_loss"]
    return {
        "general_text": source,
        "texts": int(before["embeddings"].shape[0]),
        "lm_loss_before": lm_before,
        "lm_loss_after": lm_after,
        "lm_loss_increase": lm_after - lm_before if lm_before is not None else None,
        "embedding_cosine": cosine,
        "embedding_drift": 1.0 - cosine,
    }


class ForgettingProbe:
    """Held-out general text measured before training and after; a failure is recorded as text.

    A secondary measurement must not cost the cell its result, so its error is kept, not raised.
    """

    def __init__(
        self, model: nn.Module, ids: list[list[int]], pad_id: int, device: torch.device, source: str
    ) -> None:
        self.model, self.ids, self.pad_id, self.device, self.source = (
            model,
            ids,
            pad_id,
            device,
            source,
        )
        self.error: str | None = None
        self.before = self._state()

    def _state(self) -> dict[str, Any] | None:
        if self.error is not None:
            return None
        try:
            return general_text_state(self.model, self.ids, self.pad_id, self.device)
        except Exception as exc:  # noqa: BLE001 - kept in the cell's record as `error`
            if is_device_oom(exc):
                raise  # the cell ran out of device memory: its status is oom
            self.error = f"{type(exc).__name__}: {exc}"
            return None

    def finish(self) -> dict[str, Any]:
        """The forgetting record of the model as it is now against the state at the start."""
        after = self._state()
        if self.before is None or after is None:
            return {"general_text": self.source, "error": self.error}
        return forgetting(self.before, after, self.source)

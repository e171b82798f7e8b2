"""Knowledge distillation as a regime of any method: the student minimises a mix of the task's
loss on the hard labels and the divergence from a teacher's softened outputs (Hinton et al.,
2015), the teacher's logits on the training split looked up by example."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F


def distillation_loss(
    student: torch.Tensor,
    teacher: torch.Tensor,
    labels: torch.Tensor,
    temperature: float,
    alpha: float,
) -> torch.Tensor:
    """(1 - alpha) * cross-entropy on the labels + alpha * T^2 * KL(teacher_T || student_T),
    both distributions softened by the temperature T (T^2 keeps the soft term's gradients on
    the hard term's scale). Written here: no kept library has it for classifiers (trl's GKD is
    a generation trainer)."""
    hard = F.cross_entropy(student.float(), labels)
    soft = F.kl_div(
        F.log_softmax(student.float() / temperature, dim=-1),
        F.log_softmax(teacher.float() / temperature, dim=-1),
        reduction="batchmean",
        log_target=True,
    )
    return (1 - alpha) * hard + alpha * temperature**2 * soft


class Distiller:
    """The objective the training loop minimises for a distilled student: the teacher's
    logits for the whole training split, indexed by the micro-batch's example indices."""

    def __init__(
        self, teacher_logits: torch.Tensor, temperature: float, alpha: float, device: Any
    ) -> None:
        self.teacher = teacher_logits.to(device)
        self.temperature, self.alpha = temperature, alpha

    def objective(
        self, outputs: Any, batch: dict[str, torch.Tensor], indices: list[int]
    ) -> torch.Tensor:
        rows = torch.as_tensor(indices, device=self.teacher.device)
        return distillation_loss(
            outputs.logits, self.teacher[rows], batch["labels"], self.temperature, self.alpha
        )

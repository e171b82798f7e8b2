"""Named vocabularies of outcomes: a cell's stored status and a plan's verdict. Both compare
equal to their stored strings (`Status.OK == "ok"`), so stores written before them read alike."""

from __future__ import annotations

from enum import Enum


class _Word(str, Enum):
    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    def __hash__(self) -> int:  # as its string's, so that "ok" and Status.OK are one key
        return hash(self.value)


class Status(_Word):
    """How a cell ended, as the store keeps it."""

    OK = "ok"
    OOM = "oom"  # the device ran out of memory (any CUDA OOM)
    HOST_OOM = "host_oom"  # the kernel's OOM killer ended the worker
    UNSUPPORTED = "unsupported"  # the method cannot run on this model or recipe
    WONT_FIT = "wont_fit"  # planned not to fit the card, not run
    ERROR = "error"
    TIMEOUT = "timeout"
    PRUNED = "pruned"  # a search trial ended early by its scheduler

    @property
    def fine(self) -> bool:
        """An outcome that does not fail a run (exit 0)."""
        return self in FINE


FINE = frozenset({Status.OK, Status.UNSUPPORTED, Status.WONT_FIT, Status.PRUNED})


class Verdict(_Word):
    """A plan's word on a cell before it runs."""

    FITS = "fits"
    WONT_FIT = "wont_fit"
    UNSUPPORTED = "unsupported"
    UNKNOWN = "unknown"

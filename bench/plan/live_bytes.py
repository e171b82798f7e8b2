"""Bytes of live tensor storages through a training step: the peak, and what was live then.

A dispatch mode sees every tensor an op creates; storages are held by weak reference, so a
storage counts from the op that made it until the last tensor on it is freed. Works on real
tensors and on fake ones (FakeTensorMode), where it measures a step without any memory.
Written here because torch's MemTracker (torch.distributed._tools) does the same with module
hooks at about 5x the cost, which matters for a matrix of 7B estimates on a 2-core CPU.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

import torch
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten


class LiveBytes(TorchDispatchMode):
    """Use as a context manager around a step; `track` what existed before it (weights,
    optimizer states). `peak` is the most bytes live at once. `phase` starts a named phase
    (forward, backward, ...): `phases` keeps each one's own peak and what was live then, as
    the serial number of each storage and its bytes (serials, not addresses: a freed
    storage's address is reused by later ones)."""

    def __init__(self) -> None:
        super().__init__()
        self._live: dict[int, tuple[StorageWeakRef, int, int]] = {}  # address -> ref, bytes, serial
        self._serials = itertools.count()
        self.current = 0
        self.peak = 0
        self._phase: str | None = None
        self._phase_peak = 0
        self.phases: dict[str, tuple[int, dict[int, int]]] = {}  # name -> peak, at its peak

    def phase(self, name: str) -> None:
        """Start phase `name`: its peak counts from what is live now."""
        self.sweep()
        self._phase = name
        self._phase_peak = self.current
        self.phases[name] = (self.current, self._snapshot())

    def _snapshot(self) -> dict[int, int]:
        return {serial: n for _, n, serial in self._live.values()}

    def track(self, tensors: Iterable[Any]) -> None:
        """Count the storages of `tensors` from now on (each once)."""
        grew = False
        for t in tensors:
            if not isinstance(t, torch.Tensor):
                continue
            storage = t.untyped_storage()
            ref = StorageWeakRef(storage)
            known = self._live.get(ref.cdata)
            if known is not None and not known[0].expired():
                continue
            if known is not None:  # the address of a freed storage, reused
                self.current -= known[1]
            self._live[ref.cdata] = (ref, storage.nbytes(), next(self._serials))
            self.current += storage.nbytes()
            grew = True
        # A new peak can only follow an allocation, and only if the count (which still holds
        # storages freed since the last sweep) is above it: sweep the freed ones then.
        if not grew:
            return
        if self.current > self.peak:
            self.sweep()
            self.peak = max(self.peak, self.current)
        if self._phase is not None and self.current > self._phase_peak:
            self.sweep()
            if self.current > self._phase_peak:
                self._phase_peak = self.current
                self.phases[self._phase] = (self.current, self._snapshot())

    def sweep(self) -> int:
        """Forget the storages freed since the last sweep; the bytes live now."""
        for key in [k for k, (ref, _, _) in self._live.items() if ref.expired()]:
            self.current -= self._live.pop(key)[1]
        return self.current

    def serials(self, tensors: Iterable[torch.Tensor]) -> set[int]:
        """Serial numbers of the (tracked, live) storages under `tensors`."""
        out = set()
        for t in tensors:
            ref = StorageWeakRef(t.untyped_storage())
            known = self._live.get(ref.cdata)
            if known is not None and not known[0].expired():
                out.add(known[2])
        return out

    def bytes_of(self, serials: set[int]) -> int:
        """Bytes of the live storages among `serials`."""
        return sum(n for ref, n, serial in self._live.values() if serial in serials)

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        self.track(tree_flatten(out)[0])
        return out

"""GPU profiles, detection through a fake NVML, placement of a --gpu run, --emulate's share."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from bench.core.errors import NoGpu, UnknownName
from bench.hardware.gpus import (
    GPUS,
    detect_gpus,
    emulation_fraction,
    get_gpu,
    profile_for_device_name,
)
from bench.plan.placement import card_name, place

GIB = 2**30


class FakeNvml:
    """The few NVML calls detection makes, over a list of (name, memory bytes, uuid)."""

    def __init__(self, cards: list[tuple[str, int, str]]) -> None:
        self.cards = cards

    def nvmlDeviceGetCount(self) -> int:  # noqa: N802 (NVML's names)
        return len(self.cards)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:  # noqa: N802
        return index

    def nvmlDeviceGetName(self, handle: int) -> bytes:  # noqa: N802
        return self.cards[handle][0].encode()

    def nvmlDeviceGetUUID(self, handle: int) -> str:  # noqa: N802
        return self.cards[handle][2]

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> SimpleNamespace:  # noqa: N802
        return SimpleNamespace(total=self.cards[handle][1], used=0, free=self.cards[handle][1])


@pytest.mark.parametrize(
    ("device_name", "profile"),
    [
        ("NVIDIA GeForce RTX 4090", "rtx-4090"),
        ("NVIDIA GeForce RTX 4080", "rtx-4080"),
        ("NVIDIA GeForce RTX 3090", "rtx-3090"),
        ("NVIDIA A100-SXM4-40GB", "a100-40gb"),
        ("NVIDIA A100-SXM4-80GB", "a100-80gb"),
        ("NVIDIA H100 80GB HBM3", "h100-sxm"),
        ("NVIDIA H100 PCIe", "h100-pcie"),
        ("NVIDIA H200", "h200"),
        ("NVIDIA L4", "l4"),
        ("NVIDIA L40S", "l40s"),
        ("Tesla T4", "t4"),
    ],
)
def test_device_names_map_to_their_profiles(device_name, profile):
    assert profile_for_device_name(device_name).name == profile


def test_unknown_cards_have_no_profile_and_a_slug():
    assert profile_for_device_name("NVIDIA GeForce RTX 4090 D") is None  # fewer SMs
    assert profile_for_device_name("NVIDIA RTX 4080 SUPER") is None
    assert profile_for_device_name("NVIDIA A10") is None
    (found,) = detect_gpus(FakeNvml([("NVIDIA A10", 24 * GIB, "GPU-1")]))
    assert found.profile is None and card_name(found) == "nvidia-a10"


def test_profiles_by_alias_ignoring_case():
    assert get_gpu("4090").name == get_gpu("RTX-4090").name == get_gpu("rtx-4090").name
    assert get_gpu("h100").name == "h100-sxm"
    assert get_gpu("H200").name == "h200"
    with pytest.raises(UnknownName, match="rtx-4090"):
        get_gpu("4009")


def test_every_profile_has_its_figures_and_a_source():
    assert len(GPUS.names()) == 12
    for _, g in GPUS.items():
        assert g.memory_bytes > 14 * GIB and g.fp16_tflops > 0 and g.tdp_w > 0 and g.source
        assert g.bf16 == (g.name != "t4")  # the T4 (Turing) has no bf16
        if g.bf16:
            assert g.peak_tflops("bf16") >= g.peak_tflops("tf32") >= g.peak_tflops("fp32") > 0


def test_detection_reads_every_card_with_its_uuid():
    nvml = FakeNvml(
        [("NVIDIA H100 80GB HBM3", 81559 * 2**20, "GPU-aa"), ("NVIDIA L4", 23034 * 2**20, "GPU-bb")]
    )
    found = detect_gpus(nvml)
    assert [(f.index, f.profile.name, f.uuid) for f in found] == [
        (0, "h100-sxm", "GPU-aa"),
        (1, "l4", "GPU-bb"),
    ]
    assert detect_gpus(FakeNvml([])) == []


def test_emulation_caps_the_allocator_at_the_profile_less_the_context():
    context = 600 * 2**20
    fraction = emulation_fraction(24 * GIB, 80 * GIB, context)
    assert fraction == pytest.approx((24 * GIB - context) / (80 * GIB))
    assert fraction * 80 * GIB + context == pytest.approx(24 * GIB)
    with pytest.raises(ValueError, match="cannot emulate"):
        emulation_fraction(80 * GIB, 24 * GIB, context)


def test_placement_without_a_gpu_plans_only_a_dry_run():
    dry = place("4090", emulate=False, dry_run=True, detected=[])
    assert dry.card == "rtx-4090" and dry.detected is None and dry.warning is None
    with pytest.raises(NoGpu, match="--dry-run"):
        place("4090", emulate=False, dry_run=False, detected=[])


def test_placement_on_another_card_warns_and_labels_the_real_card():
    (h100,) = detect_gpus(FakeNvml([("NVIDIA H100 80GB HBM3", 81559 * 2**20, "GPU-aa")]))
    other = place("4090", emulate=False, dry_run=False, detected=[h100])
    assert other.card == "h100-sxm" and "running on NVIDIA H100" in other.warning
    emulated = place("4090", emulate=True, dry_run=False, detected=[h100])
    assert emulated.card == "h100-sxm" and emulated.emulate and emulated.warning is None
    (l4,) = detect_gpus(FakeNvml([("NVIDIA L4", 23034 * 2**20, "GPU-bb")]))
    with pytest.raises(ValueError, match="needs a card"):
        place("h100", emulate=True, dry_run=False, detected=[l4])

"""Every built-in suite, registered: the CPU suites and the GPU profiles' (import SUITES and
expand from here, not from the modules that define them)."""

from bench.plan import (  # noqa: F401  (importing them registers them)
    cpu_suites,
    gpu_suites,
    technique_suites,
)
from bench.plan.suite_registry import (
    BUDGET_FIELDS,
    DEFAULT_BUDGET,
    SUITES,
    all_methods,
    expand,
    register_suite,
)

__all__ = ["BUDGET_FIELDS", "DEFAULT_BUDGET", "SUITES", "all_methods", "expand", "register_suite"]

"""A plugin for `python run_all.py check --plugin examples/lora_copy_plugin.py --method my_lora`.

It registers a LoRA variant under a new name; any file that calls `register_method` works.
"""

from bench.core.method_api import MethodContext
from bench.core.registry import register_method
from methods.lora import LORA_DEFAULTS, LORA_RULES, lora_on


@register_method(
    "my_lora", family="reparametrization", lr=3e-3, defaults=LORA_DEFAULTS, rules=LORA_RULES
)
def my_lora(model, settings: dict, ctx: MethodContext):
    """LoRA under another name: change the body to try a variant (init, scaling, targets)."""
    return lora_on(model, settings, ctx)

"""A plugin for `python run_all.py check --plugin examples/lora_copy_plugin.py --method my_lora`.

It registers a LoRA variant under a new name; any file that calls `register_method` works.
"""

from bench.method_api import MethodContext
from bench.registry import register_method
from methods.lora import LORA_DEFAULTS, lora_on


@register_method("my_lora", family="reparametrization", lr=3e-3, defaults=LORA_DEFAULTS)
def my_lora(model, settings: dict, ctx: MethodContext):
    """LoRA under another name: change the body to try a variant (init, scaling, targets)."""
    return lora_on(model, settings, ctx)

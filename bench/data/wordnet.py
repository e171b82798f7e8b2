"""Synonyms from Princeton WordNet 3.0's database files (bench.data.assets' `wordnet`): every
other lemma of every synset a word belongs to, as EDA takes them.

Read by hand from the documented wndb(5) format: nltk's WordNetCorpusReader refuses files
outside its own data folders and looks for a second WordNet to map versions, and no wheel on
the package index carries WordNet with a reader that works offline."""

from __future__ import annotations

from functools import cache
from pathlib import Path

PARTS = ("noun", "verb", "adj", "adv")


def read_synsets(folder: Path) -> list[list[str]]:
    """Each synset's lemmas (lower case, underscores as spaces, adjective markers dropped)."""
    synsets = []
    for part in PARTS:
        for line in (folder / f"data.{part}").read_text(encoding="utf-8").splitlines():
            if line.startswith("  "):  # the licence header
                continue
            fields = line.split(" ")
            count = int(fields[3], 16)
            words = fields[4 : 4 + 2 * count : 2]
            synsets.append([w.split("(")[0].replace("_", " ").lower() for w in words])
    return synsets


@cache
def synonym_table() -> dict[str, tuple[str, ...]]:
    """Word -> its synonyms (sorted, the word itself left out); loaded once per process."""
    from bench.data.assets import asset_path

    table: dict[str, set[str]] = {}
    for lemmas in read_synsets(asset_path("wordnet")):
        for word in lemmas:
            table.setdefault(word, set()).update(lemmas)
    return {word: tuple(sorted(found - {word})) for word, found in table.items()}


# WordNet's regular detachment rules (morphy's, without its exception lists): an inflected
# word finds the synonyms of its base form, as EDA's lookup through nltk does
DETACHMENTS = (
    ("ses", "s"),
    ("xes", "x"),
    ("zes", "z"),
    ("ches", "ch"),
    ("shes", "sh"),
    ("men", "man"),
    ("ies", "y"),
    ("es", "e"),
    ("es", ""),
    ("s", ""),
    ("ed", "e"),
    ("ed", ""),
    ("ing", "e"),
    ("ing", ""),
    ("er", ""),
    ("est", ""),
)


def synonyms(word: str) -> tuple[str, ...]:
    """WordNet synonyms of `word` or, where it has none, of the first base form its regular
    ending gives (any part of speech; none for an unknown word)."""
    table, word = synonym_table(), word.lower()
    if word in table:
        return table[word]
    for ending, base in DETACHMENTS:
        if word.endswith(ending) and len(word) > len(ending) + 1:
            found = table.get(word[: -len(ending)] + base)
            if found:
                return found
    return ()

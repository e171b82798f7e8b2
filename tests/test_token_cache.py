"""Tokenized parts are cached on disk under the tokenizer's fingerprint and the split hash."""

import pytest

from bench.data.splits import Encoded, encode
from bench.data.token_cache import cached_encoding, tokenizer_fingerprint
from bench.models.sources import byte_tokenizer


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FTBENCH_CACHE", str(tmp_path))


def test_second_call_reads_the_cache_and_a_new_key_builds_again():
    tok = byte_tokenizer()
    key = {"tokenizer": tokenizer_fingerprint(tok), "split": "abc", "part": "train"}
    built = []

    def build():
        built.append(1)
        return encode(tok, ["hello", "hi"], [0, 1], 8)

    first = cached_encoding(key, build)
    again = cached_encoding(key, build)
    assert again == first and isinstance(again, Encoded) and len(built) == 1
    cached_encoding({**key, "split": "abd"}, build)
    assert len(built) == 2


def test_fingerprint_changes_with_the_tokenizer():
    a, b = byte_tokenizer(), byte_tokenizer()
    assert tokenizer_fingerprint(a) == tokenizer_fingerprint(b)
    b.chat_template = "{{ messages }}"
    assert tokenizer_fingerprint(a) != tokenizer_fingerprint(b)

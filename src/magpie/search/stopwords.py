"""Stop-word lists for TEXT fields.

RediSearch drops stop-words while tokenizing, both in documents and in queries; a dropped word
takes no position, so "foo of bar" indexes ``foo`` at 1 and ``bar`` at 2. An index uses
RediSearch's default English list unless ``FT.CREATE ... STOPWORDS n w1 .. wn`` gives its
own (``STOPWORDS 0``: none). The default list and the lowercasing and the 1024-word cap are
RediSearch's (src/stopwords.h ``DEFAULT_STOPWORDS``, src/stopwords.c
``NewStopWordListCStr``).
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["DEFAULT_STOPWORDS", "MAX_STOPWORDS", "StopWords"]

# In RediSearch's order, which is the order FT.INFO lists them in.
DEFAULT_STOPWORDS: tuple[str, ...] = (
    "a", "is", "the", "an", "and", "are", "as", "at", "be", "but", "by", "for",
    "if", "in", "into", "it", "no", "not", "of", "on", "or", "such", "that", "their",
    "then", "there", "these", "they", "this", "to", "was", "will", "with",
)  # fmt: skip

# RediSearch keeps at most this many words of a custom list (the rest are ignored).
MAX_STOPWORDS = 1024


class StopWords:
    """An index's stop-word list: membership for the tokenizer, the words for FT.INFO.

    Words are lowercased when the list is made, as RediSearch does, and looked up as given
    (the tokenizer lowercases a token before asking). ``words`` is the default list in
    RediSearch's order, or a custom list deduplicated and sorted by bytes: RediSearch keeps a
    custom list in a trie and FT.INFO's ``stopwords_list`` walks it in that order.
    """

    __slots__ = ("words", "_set", "is_default")

    words: tuple[str, ...]
    is_default: bool

    def __init__(self, words: Iterable[str | bytes] | None = None) -> None:
        """``None``: the default English list; otherwise exactly these words (empty = none)."""
        if words is None:
            self.words = DEFAULT_STOPWORDS
            self.is_default = True
        else:
            kept: set[str] = set()
            for count, word in enumerate(words):
                if count == MAX_STOPWORDS:
                    break
                if isinstance(word, bytes):
                    word = word.decode("utf-8", "surrogateescape")
                kept.add(word.lower())
            self.words = tuple(sorted(kept, key=_utf8))
            self.is_default = False
        self._set = frozenset(self.words)

    def __contains__(self, word: object) -> bool:
        return word in self._set

    def __len__(self) -> int:
        return len(self._set)

    def __bool__(self) -> bool:
        return bool(self._set)

    def __repr__(self) -> str:
        return "StopWords(default)" if self.is_default else f"StopWords({list(self.words)!r})"


def _utf8(word: str) -> bytes:
    return word.encode("utf-8", "surrogateescape")


DEFAULT = StopWords()

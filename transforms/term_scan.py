"""Find many terms in one pass over a text (Aho–Corasick), with ASCII word boundaries."""
from __future__ import annotations

from collections.abc import Iterable, Iterator

import ahocorasick


def _is_ascii_word_char(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


class TermScanner:
    """Every occurrence of a fixed set of terms in a text, found in one pass whatever the
    number of terms (rules.yaml has hundreds; a loop of `in` tests costs one pass each).

    A term is found as a substring, except that an end of the term that is an ASCII letter
    or digit must not touch another one: `ai` is not found in `training`, nor `110` in `1100`.
    Terms are matched as given: case-fold both sides first if case must not matter.
    """

    def __init__(self, terms: Iterable[str]) -> None:
        self.terms = tuple(dict.fromkeys(term for term in terms if term))
        self._automaton = ahocorasick.Automaton()
        for term in self.terms:
            self._automaton.add_word(term, (term, len(term), _is_ascii_word_char(term[0]),
                                            _is_ascii_word_char(term[-1])))
        if self.terms:
            self._automaton.make_automaton()

    def scan(self, text: str) -> Iterator[tuple[int, int, str]]:
        """(start, end, term) of every occurrence, end exclusive, overlapping ones included,
        ordered by end."""
        if not self.terms:
            return
        last = len(text) - 1
        for end, (term, length, starts_word, ends_word) in self._automaton.iter(text):
            start = end - length + 1
            if starts_word and start > 0 and _is_ascii_word_char(text[start - 1]):
                continue
            if ends_word and end < last and _is_ascii_word_char(text[end + 1]):
                continue
            yield start, end + 1, term

    def present(self, text: str) -> frozenset[str]:
        """The terms that occur in `text`."""
        return frozenset(term for _, _, term in self.scan(text))

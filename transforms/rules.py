"""Topic rules (config/rules.yaml): boolean keyword expressions compiled once, matched on text."""
from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from jingyu.config import ConfigError, require
from transforms.text import normalise

TOPIC_KEYS = ("id", "name", "parent", "high_risk", "expr")
TOP_LEVEL_KEYS = ("topics",)
_TOPIC_ID = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")
_SYNTAX_FIX = ('join terms with AND / OR (upper case), negate with NOT, group with ( ), '
               'quote phrases: "殴打民警"')

# Chinese editors type full-width brackets and curly quotes; they mean the ASCII ones.
_OPENING = "(（"
_CLOSING = ")）"
_QUOTES = {'"': '"', "“": "”"}
_OPERATORS = ("AND", "OR", "NOT")
_TERM_END = frozenset(_OPENING + _CLOSING + '"“')


class ExpressionError(ValueError):
    """A rule expression that does not parse; `position` is the 0-based offset of the fault."""

    def __init__(self, source: str, position: int, problem: str) -> None:
        self.position = position
        before = source[:position]
        line, column = before.count("\n") + 1, position - (before.rfind("\n") + 1) + 1
        where = f"line {line}, column {column}" if "\n" in source.strip() else f"column {column}"
        super().__init__(f"{where}: {problem}")


# ---- the expression tree -------------------------------------------------------------------

@dataclass(frozen=True)
class _Term:
    text: str                         # normalised and case-folded

    def holds(self, present: frozenset[str]) -> bool:
        return self.text in present


@dataclass(frozen=True)
class _Not:
    operand: _Node

    def holds(self, present: frozenset[str]) -> bool:
        return not self.operand.holds(present)


@dataclass(frozen=True)
class _All:
    operands: tuple[_Node, ...]

    def holds(self, present: frozenset[str]) -> bool:
        return all(operand.holds(present) for operand in self.operands)


@dataclass(frozen=True)
class _Any:
    operands: tuple[_Node, ...]

    def holds(self, present: frozenset[str]) -> bool:
        return any(operand.holds(present) for operand in self.operands)


_Node = _Term | _Not | _All | _Any


def _terms_of(node: _Node, negated: bool = False) -> list[tuple[str, bool]]:
    """Every term with whether it sits under an odd number of NOTs, in reading order."""
    if isinstance(node, _Term):
        return [(node.text, negated)]
    if isinstance(node, _Not):
        return _terms_of(node.operand, not negated)
    return [pair for operand in node.operands for pair in _terms_of(operand, negated)]


@dataclass(frozen=True)
class TopicExpression:
    """A compiled rule expression."""

    source: str
    root: _Node = field(repr=False)
    terms: tuple[str, ...]            # every distinct term, normalised and case-folded
    evidence_terms: tuple[str, ...]   # the terms not under NOT: what a match is explained by

    def holds(self, present: frozenset[str]) -> bool:
        """Whether the expression is true when exactly the terms in `present` occur."""
        return self.root.holds(present)


# ---- the parser ----------------------------------------------------------------------------

class _Token(NamedTuple):
    kind: str                         # "(" ")" AND OR NOT TERM END
    text: str
    position: int


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(source):
        ch = source[i]
        if ch.isspace():
            i += 1
        elif ch in _OPENING:
            tokens.append(_Token("(", ch, i))
            i += 1
        elif ch in _CLOSING:
            tokens.append(_Token(")", ch, i))
            i += 1
        elif ch in _QUOTES:
            end = source.find(_QUOTES[ch], i + 1)
            if end < 0:
                raise ExpressionError(source, i, "this quote is never closed")
            tokens.append(_Token("TERM", source[i + 1:end], i))
            i = end + 1
        else:
            start = i
            while i < len(source) and not source[i].isspace() and source[i] not in _TERM_END:
                i += 1
            word = source[start:i]
            tokens.append(_Token(word if word in _OPERATORS else "TERM", word, start))
    tokens.append(_Token("END", "", len(source)))
    return tokens


class _Parser:
    """Recursive descent over: or := and (OR and)* ; and := not (AND not)* ;
    not := NOT not | term | ( or )."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _tokenize(source)
        self.index = 0

    def parse(self) -> _Node:
        if self._peek().kind == "END":
            raise ExpressionError(self.source, 0, "the expression is empty")
        node = self._or()
        token = self._peek()
        if token.kind == ")":
            raise ExpressionError(self.source, token.position, "')' has no matching '('")
        if token.kind != "END":
            raise ExpressionError(self.source, token.position,
                                  f"expected AND or OR before {token.text!r}")
        return node

    def _peek(self) -> _Token:
        return self.tokens[self.index]

    def _next(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def _or(self) -> _Node:
        operands = [self._and()]
        while self._peek().kind == "OR":
            self._next()
            operands.append(self._and())
        return operands[0] if len(operands) == 1 else _Any(tuple(operands))

    def _and(self) -> _Node:
        operands = [self._not()]
        while self._peek().kind == "AND":
            self._next()
            operands.append(self._not())
        return operands[0] if len(operands) == 1 else _All(tuple(operands))

    def _not(self) -> _Node:
        if self._peek().kind == "NOT":
            self._next()
            return _Not(self._not())
        return self._operand()

    def _operand(self) -> _Node:
        token = self._next()
        if token.kind == "TERM":
            text = normalise(token.text).casefold()
            if not text:
                raise ExpressionError(self.source, token.position, "empty term")
            return _Term(text)
        if token.kind == "(":
            node = self._or()
            closing = self._next()
            if closing.kind != ")":
                raise ExpressionError(self.source, token.position, "this '(' is never closed")
            return node
        after = self.tokens[self.index - 2].text if self.index >= 2 else ""
        found = "the end" if token.kind == "END" else repr(token.text)
        context = f" after {after}" if after else ""
        raise ExpressionError(self.source, token.position,
                              f"expected a term, a \"phrase\", NOT or '('{context}, found {found}")


def compile_expression(source: str) -> TopicExpression:
    """Parse a rule expression such as `(袭警 OR "殴打民警") AND NOT (演练 OR 演习)`.

    Raises ExpressionError with the column of the fault.
    """
    root = _Parser(source).parse()
    pairs = _terms_of(root)
    if root.holds(frozenset()):
        raise ExpressionError(source, 0, "it matches a text that contains none of its terms")
    return TopicExpression(
        source=source,
        root=root,
        terms=tuple(dict.fromkeys(term for term, _ in pairs)),
        evidence_terms=tuple(dict.fromkeys(term for term, negated in pairs if not negated)),
    )


# ---- matching terms in text ----------------------------------------------------------------

def _is_ascii_word_char(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def term_test(term: str) -> Callable[[str], bool]:
    """A test for `term` in case-folded normalised text: substring, except that an end of the
    term that is an ASCII letter or digit must not touch another one (so `ai` is not found
    in `training`, nor `110` in `1100`)."""
    starts_word, ends_word = _is_ascii_word_char(term[0]), _is_ascii_word_char(term[-1])
    if not starts_word and not ends_word:
        return lambda text: term in text
    pattern = re.compile(("(?<![a-z0-9])" if starts_word else "") + re.escape(term)
                         + ("(?![a-z0-9])" if ends_word else ""))
    return lambda text: pattern.search(text) is not None


# ---- topics and the rule set ---------------------------------------------------------------

@dataclass(frozen=True)
class Topic:
    """One entry of rules.yaml. A topic without parent is a category."""

    id: str
    name: str
    parent: str | None
    high_risk: bool
    expression: TopicExpression


class TopicHit(NamedTuple):
    topic_id: str
    terms: tuple[str, ...]            # the terms that made the topic fire


class RuleSet:
    """Compiled topics; match() tells which fire on a text and why."""

    def __init__(self, topics: tuple[Topic, ...]) -> None:
        self.topics: Mapping[str, Topic] = {topic.id: topic for topic in topics}
        all_terms = dict.fromkeys(term for topic in topics for term in topic.expression.terms)
        self._term_tests = tuple((term, term_test(term)) for term in all_terms)

    def match(self, text: str) -> list[TopicHit]:
        """Topics whose rule holds on a normalised text (see text.normalise), in file order.

        A fired sub-topic also fires its category, explained by the sub-topic's terms.
        """
        folded = text.casefold()
        present = frozenset(term for term, occurs in self._term_tests if occurs(folded))
        # Every expression needs at least one term (compile_expression checks it).
        if not present:
            return []
        evidence: dict[str, list[str]] = {}
        for topic in self.topics.values():
            if topic.expression.holds(present):
                terms = [t for t in topic.expression.evidence_terms if t in present]
                evidence.setdefault(topic.id, []).extend(terms)
                if topic.parent:
                    evidence.setdefault(topic.parent, []).extend(terms)
        return [TopicHit(topic_id, tuple(dict.fromkeys(evidence[topic_id])))
                for topic_id in self.topics if topic_id in evidence]


def _unknown_key(file: str | Path, where: str, key: Any, allowed: tuple[str, ...]) -> ConfigError:
    close = difflib.get_close_matches(str(key), allowed, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return ConfigError(file, f"{where}.{key}" if where else str(key), "unknown key",
                       f"{hint}allowed keys: {', '.join(allowed)}")


def _parse_topic(item: Any, file: str | Path, where: str) -> Topic:
    if not isinstance(item, dict):
        raise ConfigError(file, where, f"must be a mapping, got {type(item).__name__} {item!r}",
                          "write the topic as id:, name:, parent:, expr: lines")
    for key in item:
        if key not in TOPIC_KEYS:
            raise _unknown_key(file, where, key, TOPIC_KEYS)
    topic_id = require(item, "id", str, file, where, "add an id such as police.assault")
    if not _TOPIC_ID.fullmatch(topic_id):
        raise ConfigError(file, f"{where}.id", f"{topic_id!r} is not a valid topic id",
                          "use lower-case ASCII words joined by dots, e.g. police.assault")
    name = require(item, "name", str, file, where, "add the Chinese name, e.g. name: 袭警")
    if not name.strip():
        raise ConfigError(file, f"{where}.name", "is empty", "write the Chinese name")
    parent = item.get("parent")
    if parent is not None and not isinstance(parent, str):
        raise ConfigError(file, f"{where}.parent", f"must be a topic id or null, got {parent!r}",
                          "write the id of a category, e.g. parent: police")
    high_risk = item.get("high_risk", False)
    if not isinstance(high_risk, bool):
        raise ConfigError(file, f"{where}.high_risk", f"must be true or false, got {high_risk!r}",
                          "write high_risk: true, or leave it out")
    source = require(item, "expr", str, file, where,
                     'add an expression such as expr: 袭警 OR "殴打民警"')
    try:
        expression = compile_expression(source)
    except ExpressionError as exc:
        raise ConfigError(file, f"{where}.expr", f"(topic {topic_id}) {exc}",
                          _SYNTAX_FIX) from exc
    return Topic(topic_id, name.strip(), parent, high_risk, expression)


def parse_rules(data: Any, file: str | Path) -> RuleSet:
    """Validate the loaded content of rules.yaml and compile it; ConfigError names the field."""
    if not isinstance(data, dict):
        raise ConfigError(file, "(top level)",
                          f"must be a mapping with a topics: list, got {type(data).__name__}",
                          "start the file with 'topics:'")
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            raise _unknown_key(file, "", key, TOP_LEVEL_KEYS)
    items = require(data, "topics", list, file, "", "list the topics under 'topics:'")
    if not items:
        raise ConfigError(file, "topics", "is empty", "add at least one topic")
    topics: list[Topic] = []
    index_of: dict[str, int] = {}
    for i, item in enumerate(items):
        topic = _parse_topic(item, file, f"topics[{i}]")
        if topic.id in index_of:
            raise ConfigError(file, f"topics[{i}].id",
                              f"{topic.id!r} is already the id of topics[{index_of[topic.id]}]",
                              "give every topic its own id")
        index_of[topic.id] = i
        topics.append(topic)
    categories = ", ".join(topic.id for topic in topics if topic.parent is None)
    for i, topic in enumerate(topics):
        if topic.parent is None:
            continue
        if topic.parent not in index_of:
            raise ConfigError(file, f"topics[{i}].parent",
                              f"{topic.parent!r} is not the id of any topic",
                              f"use one of the categories: {categories}")
        # One level only: a category's own parent would make chains and cycles possible.
        if topics[index_of[topic.parent]].parent is not None:
            raise ConfigError(file, f"topics[{i}].parent",
                              f"{topic.parent!r} is not a category (it has a parent itself)",
                              f"use one of the categories: {categories}")
    return RuleSet(tuple(topics))

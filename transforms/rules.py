"""Topic rules (config/rules.yaml): boolean keyword expressions compiled once, matched on text."""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from jingyu.config import ConfigError, reject_unknown_keys, require
from transforms.term_scan import TermScanner
from transforms.text import normalise

TOPIC_KEYS = ("id", "name", "parent", "high_risk", "expr")
# The 涉警 category: with police relevance given, it and its sub-topics follow relevance.
POLICE_CATEGORY = "police"
TOP_LEVEL_KEYS = ("topics",)
_TOPIC_ID = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")
_SYNTAX_FIX = ('join terms with AND / OR (upper case), negate with NOT, group with ( ), '
               'quote phrases: "殴打民警", proximity: 民警 NEAR/10 打人')

# Chinese editors type full-width brackets and curly quotes; they mean the ASCII ones.
_OPENING = "(（"
_CLOSING = ")）"
_QUOTES = {'"': '"', "“": "”"}
_OPERATORS = ("AND", "OR", "NOT")
_NEAR_OPERATOR = re.compile(r"NEAR/(\d+)")
NEAR_MAX = 1000
_NEAR_CHAIN = ("NEAR joins exactly two operands: write (a NEAR/5 b) AND (b NEAR/5 c) "
               "instead of a NEAR/5 b NEAR/5 c")
_TERM_END = frozenset(_OPENING + _CLOSING + '"“')


class ExpressionError(ValueError):
    """A rule expression that does not parse; `position` is the 0-based offset of the fault."""

    def __init__(self, source: str, position: int, problem: str) -> None:
        self.position = position
        before = source[:position]
        line, column = before.count("\n") + 1, position - (before.rfind("\n") + 1) + 1
        where = f"line {line}, column {column}" if "\n" in source.strip() else f"column {column}"
        super().__init__(f"{where}: {problem}")


# ---- the expression tree (public: warehouse.search translates it into SQL) -----------------

# Where each term occurs in a text: (start, end) character offsets, end exclusive. Only the
# terms of NEAR operators are located; the others only need to be present.
Spans = Mapping[str, Sequence[tuple[int, int]]]
_NO_SPANS: Spans = {}


@dataclass(frozen=True)
class Term:
    text: str                         # normalised and case-folded

    def holds(self, present: frozenset[str], spans: Spans) -> bool:
        return self.text in present


@dataclass(frozen=True)
class Near:
    """Some term of `left` and some term of `right` at most `distance` characters apart
    (the characters between them; in either order; overlapping counts as 0)."""

    left: tuple[str, ...]
    right: tuple[str, ...]
    distance: int

    def holds(self, present: frozenset[str], spans: Spans) -> bool:
        lefts = [span for term in self.left if term in present for span in spans.get(term, ())]
        if not lefts:
            return False
        rights = [span for term in self.right if term in present for span in spans.get(term, ())]
        return any(max(r_start - l_end, l_start - r_end) <= self.distance
                   for l_start, l_end in lefts for r_start, r_end in rights)


@dataclass(frozen=True)
class Not:
    operand: Node

    def holds(self, present: frozenset[str], spans: Spans) -> bool:
        return not self.operand.holds(present, spans)


@dataclass(frozen=True)
class AllOf:
    operands: tuple[Node, ...]

    def holds(self, present: frozenset[str], spans: Spans) -> bool:
        return all(operand.holds(present, spans) for operand in self.operands)


@dataclass(frozen=True)
class AnyOf:
    operands: tuple[Node, ...]

    def holds(self, present: frozenset[str], spans: Spans) -> bool:
        return any(operand.holds(present, spans) for operand in self.operands)


Node = Term | Near | Not | AllOf | AnyOf


def _terms_of(node: Node, negated: bool = False) -> list[tuple[str, bool]]:
    """Every term with whether it sits under an odd number of NOTs, in reading order."""
    if isinstance(node, Term):
        return [(node.text, negated)]
    if isinstance(node, Near):
        return [(term, negated) for term in (*node.left, *node.right)]
    if isinstance(node, Not):
        return _terms_of(node.operand, not negated)
    return [pair for operand in node.operands for pair in _terms_of(operand, negated)]


def _near_terms_of(node: Node) -> list[str]:
    if isinstance(node, Near):
        return [*node.left, *node.right]
    if isinstance(node, Not):
        return _near_terms_of(node.operand)
    if isinstance(node, (AllOf, AnyOf)):
        return [term for operand in node.operands for term in _near_terms_of(operand)]
    return []


@dataclass(frozen=True)
class TopicExpression:
    """A compiled rule expression."""

    source: str
    root: Node = field(repr=False)
    terms: tuple[str, ...]            # every distinct term, normalised and case-folded
    evidence_terms: tuple[str, ...]   # the terms not under NOT: what a match is explained by
    near_terms: tuple[str, ...] = ()  # the terms of NEAR operators: their places matter

    def holds(self, present: frozenset[str], spans: Spans = _NO_SPANS) -> bool:
        """Whether the expression is true when exactly the terms in `present` occur, at the
        places in `spans` (needed for the terms of NEAR only)."""
        return self.root.holds(present, spans)


# ---- the parser ----------------------------------------------------------------------------

class _Token(NamedTuple):
    kind: str                         # "(" ")" AND OR NOT NEAR TERM END
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
            if word in _OPERATORS:
                tokens.append(_Token(word, word, start))
            elif word.startswith("NEAR"):
                tokens.append(_Token("NEAR", word, start))
            else:
                tokens.append(_Token("TERM", word, start))
    tokens.append(_Token("END", "", len(source)))
    return tokens


class _Parser:
    """Recursive descent over: or := and (OR and)* ; and := not (AND not)* ;
    not := NOT not | near ; near := operand (NEAR/n operand)? ; operand := term | ( or )."""

    def __init__(self, source: str, implicit_and: bool = False) -> None:
        self.source = source
        self.tokens = _tokenize(source)
        self.index = 0
        self.implicit_and = implicit_and      # `a b` means `a AND b` (search boxes)

    def parse(self) -> Node:
        if self._peek().kind == "END":
            raise ExpressionError(self.source, 0, "the expression is empty")
        node = self._or()
        token = self._peek()
        if token.kind == ")":
            raise ExpressionError(self.source, token.position, "')' has no matching '('")
        if token.kind == "NEAR":
            raise ExpressionError(self.source, token.position, _NEAR_CHAIN)
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

    def _or(self) -> Node:
        operands = [self._and()]
        while self._peek().kind == "OR":
            self._next()
            operands.append(self._and())
        return operands[0] if len(operands) == 1 else AnyOf(tuple(operands))

    def _and(self) -> Node:
        operands = [self._not()]
        while self._peek().kind == "AND" or (self.implicit_and
                                             and self._peek().kind in ("TERM", "(", "NOT")):
            if self._peek().kind == "AND":
                self._next()
            operands.append(self._not())
        return operands[0] if len(operands) == 1 else AllOf(tuple(operands))

    def _not(self) -> Node:
        if self._peek().kind == "NOT":
            self._next()
            return Not(self._not())
        return self._near()

    def _near(self) -> Node:
        start = self._peek().position
        left = self._operand()
        if self._peek().kind != "NEAR":
            return left
        operator = self._next()
        match = _NEAR_OPERATOR.fullmatch(operator.text)
        if match is None:
            raise ExpressionError(self.source, operator.position,
                                  f"{operator.text!r} is not a proximity operator: write "
                                  f"NEAR/n with n the most characters allowed between the "
                                  f"terms, 0 to {NEAR_MAX}, e.g. 民警 NEAR/10 打人")
        distance = int(match.group(1))
        if distance > NEAR_MAX:
            raise ExpressionError(self.source, operator.position,
                                  f"NEAR/{distance} is too far: at most NEAR/{NEAR_MAX}")
        right_start = self._peek().position
        right = self._operand()
        if self._peek().kind == "NEAR":
            raise ExpressionError(self.source, self._peek().position, _NEAR_CHAIN)
        return Near(self._near_side(left, start), self._near_side(right, right_start),
                     distance)

    def _near_side(self, node: Node, position: int) -> tuple[str, ...]:
        if isinstance(node, Term):
            return (node.text,)
        if isinstance(node, AnyOf) and all(isinstance(o, Term) for o in node.operands):
            return tuple(dict.fromkeys(o.text for o in node.operands))  # type: ignore[union-attr]
        raise ExpressionError(self.source, position,
                              "NEAR joins a term or a (term OR term ...) group on each side, "
                              "not AND, NOT or another NEAR")

    def _operand(self) -> Node:
        token = self._next()
        if token.kind == "TERM":
            text = normalise(token.text).casefold()
            if not text:
                raise ExpressionError(self.source, token.position, "empty term")
            return Term(text)
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


def compile_expression(source: str, *, implicit_and: bool = False) -> TopicExpression:
    """Parse a rule expression such as `(袭警 OR "殴打民警") AND NOT (演练 OR 演习)`, or with
    proximity, `(民警 OR 辅警) NEAR/10 打人`. With implicit_and, terms written side by side
    are ANDed, as in a search box: `滨河路 辅警 NOT 演练`.

    Raises ExpressionError with the column of the fault.
    """
    root = _Parser(source, implicit_and).parse()
    pairs = _terms_of(root)
    if root.holds(frozenset(), _NO_SPANS):
        raise ExpressionError(source, 0, "it matches a text that contains none of its terms")
    return TopicExpression(
        source=source,
        root=root,
        terms=tuple(dict.fromkeys(term for term, _ in pairs)),
        evidence_terms=tuple(dict.fromkeys(term for term, negated in pairs if not negated)),
        near_terms=tuple(dict.fromkeys(_near_terms_of(root))),
    )


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
        # One automaton for every term of every topic: the text is read once per post.
        self._scanner = TermScanner(term for topic in topics for term in topic.expression.terms)
        self._near_terms = frozenset(term for topic in topics
                                     for term in topic.expression.near_terms)
        self._topic_terms = {topic.id: frozenset(topic.expression.terms) for topic in topics}

    def match(self, text: str, police_terms: Sequence[str] | None = None) -> list[TopicHit]:
        """Topics whose rule holds on a normalised text (see text.normalise), in file order.

        A fired sub-topic also fires its category, explained by the sub-topic's terms.
        Terms are found case-insensitively; an ASCII letter or digit at an end of a term
        must not touch another one (`ai` is not in `training`, `110` not in `1100`).

        With police_terms (transforms.police.find_police_terms of the text), the 涉警 category
        (POLICE_CATEGORY) follows police relevance: a police-related text always has it,
        explained by those terms when its own rule did not fire, and a text that is not
        police-related has neither it nor any of its sub-topics.
        """
        hits = self._match(text)
        if police_terms is None or POLICE_CATEGORY not in self.topics:
            return hits
        if not police_terms:
            return [hit for hit in hits if POLICE_CATEGORY not in
                    (hit.topic_id, self.topics[hit.topic_id].parent)]
        if any(hit.topic_id == POLICE_CATEGORY for hit in hits):
            return hits
        fired = {hit.topic_id: hit for hit in hits}
        fired[POLICE_CATEGORY] = TopicHit(POLICE_CATEGORY, tuple(police_terms))
        return [fired[topic_id] for topic_id in self.topics if topic_id in fired]

    def _match(self, text: str) -> list[TopicHit]:
        folded = text.casefold()
        present: set[str] = set()
        spans: dict[str, list[tuple[int, int]]] = {}
        for start, end, term in self._scanner.scan(folded):
            present.add(term)
            if term in self._near_terms:
                spans.setdefault(term, []).append((start, end))
        # Every expression needs at least one term (compile_expression checks it).
        if not present:
            return []
        found = frozenset(present)
        evidence: dict[str, list[str]] = {}
        for topic in self.topics.values():
            # A rule is false when none of its terms occur (compile_expression checks it),
            # and most posts touch few topics: skip the rest without evaluating them.
            if found.isdisjoint(self._topic_terms[topic.id]):
                continue
            if topic.expression.holds(found, spans):
                terms = [t for t in topic.expression.evidence_terms if t in found]
                evidence.setdefault(topic.id, []).extend(terms)
                if topic.parent:
                    evidence.setdefault(topic.parent, []).extend(terms)
        return [TopicHit(topic_id, tuple(dict.fromkeys(evidence[topic_id])))
                for topic_id in self.topics if topic_id in evidence]


def _parse_topic(item: Any, file: str | Path, where: str) -> Topic:
    if not isinstance(item, dict):
        raise ConfigError(file, where, f"must be a mapping, got {type(item).__name__} {item!r}",
                          "write the topic as id:, name:, parent:, expr: lines")
    reject_unknown_keys(item, TOPIC_KEYS, file, where)
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
    reject_unknown_keys(data, TOP_LEVEL_KEYS, file)
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

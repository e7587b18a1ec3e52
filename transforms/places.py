"""Jurisdictions (config/jurisdictions.yaml) and the places a text names, mapped to their ids."""
from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jingyu.config import ConfigError, reject_unknown_keys, require
from transforms.term_scan import TermScanner
from transforms.text import normalise

# 市局 / 县(分局) / 派出所: a more specific level routes an alert to the people nearest to it.
LEVELS = ("city", "county", "station")
JURISDICTION_KEYS = ("id", "name", "level", "unit", "aliases")
_JURISDICTION_ID = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*")
# A repost chain's "//@某某:" names who passed the text on ("//@云溪发布会:"), not where it
# happened; a plain @ (people @ their local police account) still counts.
_REPOST_NAME = re.compile(r"//@[^:：\s]{1,30}[:：]")


@dataclass(frozen=True)
class Jurisdiction:
    id: str                           # dotted: the parent of "qingchuan.linjiang" is "qingchuan"
    name: str
    level: str                        # one of LEVELS
    unit: str | None
    aliases: tuple[str, ...]

    @property
    def parent(self) -> str | None:
        return self.id.rpartition(".")[0] or None


class Gazetteer:
    """The jurisdictions and every way posts name them (name, unit, aliases)."""

    def __init__(self, jurisdictions: tuple[Jurisdiction, ...]) -> None:
        self.jurisdictions: Mapping[str, Jurisdiction] = {j.id: j for j in jurisdictions}
        self._owner: dict[str, str] = {}
        for j in jurisdictions:
            for spelling in (j.name, j.unit, *j.aliases):
                if spelling:
                    self._owner.setdefault(_key(spelling), j.id)
        self._rank = {j.id: LEVELS.index(j.level) for j in jurisdictions}
        self._scanner = TermScanner(self._owner)

    def find(self, text: str) -> tuple[str, ...]:
        """Ids of the jurisdictions a normalised text names, the most specific level first,
        then in order of appearance.

        Where names overlap the longest wins ("临江派出所" is the station, not 临江区), so
        places[0] is where the post is most precisely about. The user names of a repost
        chain ("转发微博//@云溪发布会:…") are not places the post names.
        """
        text = _REPOST_NAME.sub(" ", text)
        matches = sorted(self._scanner.scan(text.casefold()), key=lambda m: (m[0], m[0] - m[1]))
        found: dict[str, int] = {}
        taken_until = 0
        for start, end, spelling in matches:
            if start >= taken_until:  # leftmost-longest, no overlaps
                found.setdefault(self._owner[spelling], start)
                taken_until = end
        return tuple(sorted(found, key=lambda place: (-self._rank[place], found[place])))


EMPTY_GAZETTEER = Gazetteer(())


def nearest_jurisdictions(gazetteer: Gazetteer, wanted: str, n: int = 3) -> list[str]:
    """Ids a mistyped --jurisdiction most likely meant: the one it names by place name
    (临江区, 临江派出所), then ids spelled alike (qingchun -> qingchuan), then ids it is the
    last part of (linjiang -> qingchuan.linjiang)."""
    ids = list(gazetteer.jurisdictions)
    found = list(gazetteer.find(normalise(wanted)))
    found += difflib.get_close_matches(wanted.casefold(), ids, n=n, cutoff=0.6)
    found += [j for j in ids if j.rsplit(".", 1)[-1] == wanted.casefold()]
    return list(dict.fromkeys(found))[:n]


def _key(spelling: str) -> str:
    return normalise(spelling).casefold()


def _parse_jurisdiction(item: Any, file: str | Path, where: str) -> Jurisdiction:
    if not isinstance(item, dict):
        raise ConfigError(file, where, f"must be a mapping, got {type(item).__name__} {item!r}",
                          "write the jurisdiction as id:, name:, level:, unit:, aliases: lines")
    reject_unknown_keys(item, JURISDICTION_KEYS, file, where)
    jid = require(item, "id", str, file, where, "add an id such as qingchuan.linjiang")
    if not _JURISDICTION_ID.fullmatch(jid):
        raise ConfigError(file, f"{where}.id", f"{jid!r} is not a valid jurisdiction id",
                          "use lower-case ASCII words joined by dots, e.g. qingchuan.linjiang")
    name = require(item, "name", str, file, where, "add the place as people write it")
    if not name.strip():
        raise ConfigError(file, f"{where}.name", "is empty", "write the place name, e.g. 临江区")
    level = require(item, "level", str, file, where, f"add level: one of {', '.join(LEVELS)}")
    if level not in LEVELS:
        raise ConfigError(file, f"{where}.level", f"{level!r} is not a level",
                          f"use one of {', '.join(LEVELS)} (市局, 县/分局, 派出所)")
    unit = item.get("unit")
    if unit is not None and (not isinstance(unit, str) or not unit.strip()):
        raise ConfigError(file, f"{where}.unit", f"must be the unit's name, got {unit!r}",
                          "write the unit as it signs its statements, or leave it out")
    aliases = item.get("aliases") or []
    if not isinstance(aliases, list):
        raise ConfigError(file, f"{where}.aliases", f"must be a list, got {aliases!r}",
                          "write aliases: [临江, 临江分局]")
    for k, alias in enumerate(aliases):
        if not isinstance(alias, str) or not _key(alias):
            raise ConfigError(file, f"{where}.aliases[{k}]",
                              f"must be a non-empty name, got {alias!r}",
                              "write the alias as text, or remove it")
    return Jurisdiction(jid, name.strip(), level, unit.strip() if unit else None,
                        tuple(alias.strip() for alias in aliases))


def parse_jurisdictions(data: Any, file: str | Path) -> Gazetteer:
    """Validate the loaded content of jurisdictions.yaml; ConfigError names the field."""
    if not isinstance(data, dict) or not isinstance(data.get("jurisdictions"), list):
        raise ConfigError(file, "jurisdictions", "must be a list of jurisdictions",
                          "start the file with jurisdictions: and one - id: ... per entry")
    reject_unknown_keys(data, ("jurisdictions",), file)
    parsed: list[Jurisdiction] = []
    index_of: dict[str, int] = {}
    spelled: dict[str, tuple[int, str]] = {}
    for i, item in enumerate(data["jurisdictions"]):
        where = f"jurisdictions[{i}]"
        j = _parse_jurisdiction(item, file, where)
        if j.id in index_of:
            raise ConfigError(file, f"{where}.id",
                              f"{j.id!r} is already the id of jurisdictions[{index_of[j.id]}]",
                              "give every jurisdiction its own id")
        if j.parent is not None:
            if j.parent not in index_of:
                raise ConfigError(file, f"{where}.id", f"its parent {j.parent!r} is not listed "
                                  "before it", "list the parent jurisdiction first")
            parent = parsed[index_of[j.parent]]
            if LEVELS.index(j.level) <= LEVELS.index(parent.level):
                raise ConfigError(file, f"{where}.level",
                                  f"{j.level!r} is not below its parent's level {parent.level!r}",
                                  "a county sits under a city, a station under a county")
        for spelling in dict.fromkeys(s for s in (j.name, j.unit, *j.aliases) if s):
            other = spelled.get(_key(spelling))
            if other is not None and other[1] != j.id:
                raise ConfigError(file, f"{where}.aliases",
                                  f"{spelling!r} already names jurisdictions[{other[0]}] "
                                  f"({other[1]})", "a name must point to one jurisdiction: "
                                  "make it more specific or remove it from one")
            spelled[_key(spelling)] = (i, j.id)
        index_of[j.id] = i
        parsed.append(j)
    return Gazetteer(tuple(parsed))

"""config/jurisdictions.yaml: the parser, its errors, and the places a post names."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from jingyu.config import ConfigError
from transforms.places import Gazetteer, parse_jurisdictions
from transforms.text import normalise

SHIPPED = Path(__file__).resolve().parents[2] / "config" / "jurisdictions.yaml"
FILE = "config/jurisdictions.yaml"


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return parse_jurisdictions(yaml.safe_load(SHIPPED.read_text(encoding="utf-8")), SHIPPED)


def test_the_shipped_tree_loads(gazetteer: Gazetteer) -> None:
    levels = {j.id: j.level for j in gazetteer.jurisdictions.values()}
    assert levels["qingchuan"] == "city" and levels["qingchuan.linjiang"] == "county"
    assert levels["qingchuan.linjiang.linjiang_pcs"] == "station"
    assert gazetteer.jurisdictions["qingchuan.beihu.xuefu_pcs"].parent == "qingchuan.beihu"


@pytest.mark.parametrize("text, places", [
    # The longest match wins: 临江派出所 is the station, not 临江 the district.
    ("临江派出所民警到场处置", ("qingchuan.linjiang.linjiang_pcs",)),
    # An alias names a station (滨河路夜市 lies in 临江派出所's area).
    ("滨河路夜市昨晚发生纠纷", ("qingchuan.linjiang.linjiang_pcs",)),
    # Station beats county beats city, whatever the order in the text.
    ("青川市北湖区学府路发生一起事故",
     ("qingchuan.beihu.xuefu_pcs", "qingchuan.beihu", "qingchuan")),
    ("云溪县公安局通报：北湖公园", ("qingchuan.beihu.beihu_pcs", "qingchuan.yunxi")),
    # The unit as it signs its statements.
    ("青川市公安局临江分局江滨派出所发布", ("qingchuan.linjiang.jiangbin_pcs",)),
    # Full-width and case do not matter (the text is normalised first).
    ("ＱＱ群里说青川公安出警了", ("qingchuan",)),
    ("今天天气很好", ()),
    # A repost chain's user names are who passed it on, not where it happened ...
    ("转发微博//@云溪发布会:摊主在夜市被推倒", ()),
    ("太过分了//@北湖生活圈：滨河路夜市又出事了", ("qingchuan.linjiang.linjiang_pcs",)),
    # ... but people @ their local police account: that place counts.
    ("@云溪县公安局 管管吧", ("qingchuan.yunxi",)),
])
def test_places_named_in_a_text(gazetteer: Gazetteer, text: str,
                                places: tuple[str, ...]) -> None:
    assert gazetteer.find(normalise(text)) == places


def entry(**fields: Any) -> dict[str, Any]:
    return {"id": "qc", "name": "青川市", "level": "city", "aliases": ["青川"], **fields}


@pytest.mark.parametrize("data, field, problem", [
    ([], "jurisdictions", "must be a list"),
    ({"jurisdictions": [entry(), entry()]}, "jurisdictions[1].id", "already the id"),
    ({"jurisdictions": [entry(id="Qing Chuan")]}, "jurisdictions[0].id", "not a valid"),
    ({"jurisdictions": [entry(level="province")]}, "jurisdictions[0].level", "not a level"),
    ({"jurisdictions": [entry(alias=["x"])]}, "jurisdictions[0].alias", "did you mean 'aliases'"),
    ({"jurisdictions": [entry(aliases="青川")]}, "jurisdictions[0].aliases", "must be a list"),
    ({"jurisdictions": [entry(aliases=["青川", ""])]}, "jurisdictions[0].aliases[1]",
     "non-empty"),
    ({"jurisdictions": [entry(id="qc.lj", level="county")]}, "jurisdictions[0].id",
     "parent 'qc' is not listed"),
    ({"jurisdictions": [entry(), entry(id="qc.lj", name="临江区", level="city", aliases=[])]},
     "jurisdictions[1].level", "not below its parent"),
    ({"jurisdictions": [entry(), entry(id="qc.lj", name="临江区", level="county",
                                       aliases=["青川"])]},
     "jurisdictions[1].aliases", "already names jurisdictions[0]"),
    ({"jurisdictions": [{"id": "qc", "level": "city"}]}, "jurisdictions[0].name", "required"),
])
def test_bad_entries_name_file_field_and_fix(data: Any, field: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_jurisdictions(data, FILE)
    assert caught.value.file == FILE and caught.value.field == field
    assert problem in str(caught.value) and caught.value.fix

"""The sources.yaml reference, generated from the schemas of the source fields and of each
kind's options, so the documentation cannot drift from what is validated.

    python -m collectors.reference > docs/sources.md
"""
from __future__ import annotations

import collectors  # noqa: F401  (registers every kind)
from collectors.kinds import all_kinds
from collectors.sources import GroupEntry, SourceEntry
from jingyu.schema_doc import fields_table as _table


def sources_reference() -> str:
    lines = [
        "# sources.yaml reference",
        "",
        "Generated from the schemas jingyu validates `config/sources.yaml` with; do not edit "
        "by hand, run `python -m collectors.reference > docs/sources.md`. A value that breaks "
        "a rule below stops jingyu with `file: field: problem (fix: ...)` and exit code 2.",
        "",
        "## Fields of every source",
        "",
        *_table(SourceEntry, ""),
        "",
        "## Groups (`groups:`, beside `sources:`)",
        "",
        "An upstream serving many sources — a self-hosted RSSHub answers every Weibo, Zhihu and "
        "WeChat route from one host — declares its own politeness: its sources share "
        "`concurrency` requests in flight and `delay_s` between request starts, instead of the "
        "one-request-per-second per-host delay kept for real sites.",
        "",
        *_table(GroupEntry, ""),
    ]
    for kind in all_kinds():
        lines += ["", f"## kind: {kind.name}", "", f"{kind.summary[0].upper()}{kind.summary[1:]}.",
                  "", f"`url`: {kind.url_means}."]
        if kind.Options.model_fields:
            lines += ["", "`options`:", "", *_table(kind.Options, "")]
        else:
            lines += ["", "No `options`."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(sources_reference(), end="")

"""The alerts.yaml channels reference, generated from each channel kind's options model
(alerts.channel_options), so the documentation cannot drift from what is validated.

    python -m alerts.channel_reference > docs/channels.md
"""
from __future__ import annotations

from alerts.channel_options import CHANNEL_OPTIONS, ChannelOptions
from jingyu.schema_doc import fields_table

COMMON = tuple(ChannelOptions.model_fields)


def channels_reference() -> str:
    lines = [
        "# alerts.yaml channels reference",
        "",
        "Generated from the schemas jingyu validates the `channels:` of `config/alerts.yaml` "
        "with; do not edit by hand, run `python -m alerts.channel_reference > "
        "docs/channels.md`. A value that breaks a rule below, or a field the channel's kind "
        "does not take, stops jingyu with `file: field: problem (fix: ...)` and exit code 2.",
        "",
        "Secrets never go into alerts.yaml: `*_env` names an environment variable of the worker "
        "and `*_block` a Prefect Secret block, read when a message is sent; jingyu's startup "
        "check and `jingyu doctor` report the missing ones.",
        "",
        "## Fields of every channel",
        "",
        *fields_table(ChannelOptions),
    ]
    for kind, model in CHANNEL_OPTIONS.items():
        lines += ["", f"## kind: {kind}", "", f"{model.summary[0].upper()}{model.summary[1:]}."]
        own = [name for name in model.model_fields if name not in COMMON]
        if own:
            lines += ["", *fields_table(model, skip=COMMON)]
        else:
            lines += ["", "No other fields."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(channels_reference(), end="")

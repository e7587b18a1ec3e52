"""The channel registry: which class builds a channel of each kind named in config/alerts.yaml."""
from __future__ import annotations

from collections.abc import Callable

from alerts.channel_options import ChannelOptions
from alerts.delivery.channels import Channel, ConsoleChannel, JsonLinesChannel, WebhookChannel
from alerts.delivery.email import email_channel
from alerts.delivery.robots import robot_channel
from alerts.settings import AlertSettings

CHANNEL_FACTORIES: dict[str, Callable[[ChannelOptions], Channel]] = {
    "console": lambda c: ConsoleChannel(c.name),
    "jsonl": lambda c: JsonLinesChannel(c.name, c.path),
    "webhook": lambda c: WebhookChannel(c.name, c.url, c.timeout_seconds, url_env=c.url_env,
                                        url_block=c.url_block),
    "dingtalk": robot_channel,
    "wecom": robot_channel,
    "feishu": robot_channel,
    "email": email_channel,
}


def build_channels(settings: AlertSettings) -> dict[str, Channel]:
    """The enabled channels of alerts.yaml, by name."""
    return {c.name: CHANNEL_FACTORIES[c.kind](c) for c in settings.channels if c.enabled}

"""The options of each channel kind in config/alerts.yaml, one pydantic model per kind.

Every channel has name, kind, min_level and enabled (ChannelOptions); each kind adds its own
fields and rules. A field of another kind, or a misspelt one, is an error naming the kind's
fields. The same models give the "file: field: problem (fix: ...)" messages and the options
reference (docs/channels.md, `python -m alerts.channel_reference`). Secrets are named here,
never written: *_env is an environment variable, *_block a Prefect Secret block, both read at
send time (alerts.delivery.channel_secrets).
"""
from __future__ import annotations

import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, field_validator, model_validator

from alerts.levels import LEVELS
from jingyu.config import ConfigProblem

LEVEL_FIX = "use 1 (I级 红色, most severe) to 4 (IV级 蓝色)"
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ENV_FIX = "give the NAME of an environment variable, e.g. JINGYU_DINGTALK_SECRET"
Text = Annotated[str, Strict()]
Seconds = Annotated[float, Strict()]        # a whole number is a number too; true is not
SMTP_PORTS = {"ssl": 465, "starttls": 587, "none": 25}

# (what, environment variable, Prefect block) of each secret a channel reads when sending
Secret = tuple[str, str | None, str | None]


def _env_name(value: str | None) -> str | None:
    if value is not None and not ENV_NAME.match(value):
        raise ConfigProblem(f"not an environment variable name: {value!r}",
                            "write the variable's name (letters, digits, _), not its value: "
                            "secrets never go into alerts.yaml")
    return value


class ChannelOptions(BaseModel):
    """The fields every channel has; a duty channel receives alerts whose level number is at
    most min_level, an operators channel only the 系统告警 (source and pipeline health)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    summary: ClassVar[str] = ""

    name: Text = Field(description="unique; routing.yaml and the outbox refer to it",
                       json_schema_extra={"fix": "give the channel a unique name; quote names "
                                                 "YAML reads as true/false such as 'off' or 'no'"})
    kind: Text = Field(description="what the channel is (see the kinds below)")
    min_level: Annotated[int, Strict()] = Field(
        4, description="receives alerts of this level and more severe (1 = I级 红色)",
        json_schema_extra={"fix": LEVEL_FIX})
    enabled: Annotated[bool, Strict()] = Field(True, description="false keeps the entry but "
                                                                 "sends nothing",
                                               json_schema_extra={"fix": "write true or false"})
    audience: Literal["duty", "operators"] = Field(
        "duty", description="duty: opinion alerts for duty staff, by min_level; operators: "
                            "only the 系统告警 (dead or blocked sources, stopped cycles), for "
                            "whoever runs jingyu, without a level",
        json_schema_extra={"fix": "use duty (opinion alerts for duty staff) or operators "
                                  "(系统告警: dead sources, stopped cycles, for whoever runs "
                                  "jingyu)"})

    @field_validator("min_level")
    @classmethod
    def _level(cls, value: int) -> int:
        if value not in LEVELS:
            raise ConfigProblem(f"must be a warning level 1-4, got {value}", LEVEL_FIX)
        return value

    @model_validator(mode="after")
    def _operators_take_no_level(self) -> ChannelOptions:
        if self.audience == "operators" and "min_level" in self.model_fields_set:
            raise ConfigProblem("does not apply to an operators channel",
                                "remove 'min_level:': an operators channel gets every 系统告警 "
                                "and no opinion alert; levels I-IV rank opinion alerts only",
                                field="min_level")
        return self

    def secrets(self) -> list[Secret]:
        """The secrets this channel reads when it sends (checked at startup)."""
        return []


class ConsoleOptions(ChannelOptions):
    summary: ClassVar[str] = "prints each notification to the log of the process running the cycle"
    kind: Literal["console"] = "console"


class JsonlOptions(ChannelOptions):
    summary: ClassVar[str] = ("appends each notification as one JSON line to a file, an audit "
                              "trail other tools can tail")
    kind: Literal["jsonl"] = "jsonl"
    path: Text = Field(description="the file to append to (relative to the run directory)",
                       json_schema_extra={"fix": "give the file to append alerts to"})


class PostingOptions(ChannelOptions):
    """A kind that POSTs to a URL; the URL usually holds a token."""

    url: Text | None = Field(None, description="the URL itself (only when it holds no token)",
                             json_schema_extra={"fix": "start the URL with http:// or https://"})
    url_env: Text | None = Field(None, description="environment variable holding the URL")
    url_block: Text | None = Field(None, description="Prefect Secret block holding the URL")
    timeout_seconds: Seconds = Field(
        10.0, gt=0, description="a hung receiver must not stall the cycle",
        json_schema_extra={"fix": "use a few seconds, e.g. 10"})

    @field_validator("url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ConfigProblem(f"not an http(s) URL: {value!r}",
                                "start the URL with http:// or https://")
        return value

    @field_validator("url_env")
    @classmethod
    def _url_env(cls, value: str | None) -> str | None:
        return _env_name(value)

    @model_validator(mode="after")
    def _one_url(self) -> PostingOptions:
        given = [k for k in ("url", "url_env", "url_block") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ConfigProblem("needs exactly one of url, url_env, url_block"
                                + (f", got {', '.join(given)}" if given else ""),
                                "put the webhook URL (it usually holds a token) in an "
                                "environment variable and write 'url_env: JINGYU_..._URL'",
                                field="url_env")
        return self

    def secrets(self) -> list[Secret]:
        return [("webhook URL", self.url_env, self.url_block)]


class WebhookOptions(PostingOptions):
    summary: ClassVar[str] = ("POSTs the alert as JSON with an Idempotency-Key header (a "
                              "command centre's receiver)")
    kind: Literal["webhook"] = "webhook"


class RobotOptions(PostingOptions):
    """A chat-group robot behind a webhook URL."""


class SignedRobotOptions(RobotOptions):
    """A robot that signs each message with a secret."""

    secret_env: Text | None = Field(None, description="environment variable holding the "
                                                      "signing secret")
    secret_block: Text | None = Field(None, description="Prefect Secret block holding the "
                                                        "signing secret")

    @field_validator("secret_env")
    @classmethod
    def _secret_env(cls, value: str | None) -> str | None:
        return _env_name(value)

    @model_validator(mode="after")
    def _one_secret(self) -> SignedRobotOptions:
        if self.secret_env and self.secret_block:
            raise ConfigProblem("give secret_env or secret_block, not both",
                                "remove one of them", field="secret_env")
        return self

    def secrets(self) -> list[Secret]:
        return [*super().secrets(), ("signing secret", self.secret_env, self.secret_block)]


class DingTalkOptions(SignedRobotOptions):
    summary: ClassVar[str] = "钉钉 custom robot (安全设置 加签: the SEC... secret)"
    kind: Literal["dingtalk"] = "dingtalk"


class FeishuOptions(SignedRobotOptions):
    summary: ClassVar[str] = "飞书 custom bot (签名校验 secret)"
    kind: Literal["feishu"] = "feishu"


class WeComOptions(RobotOptions):
    summary: ClassVar[str] = "企业微信 group robot (the key in the URL is the credential; no signing)"
    kind: Literal["wecom"] = "wecom"


class EmailOptions(ChannelOptions):
    summary: ClassVar[str] = "sends e-mail through an SMTP server (带班领导, 上级)"
    kind: Literal["email"] = "email"
    host: Text = Field(description="the SMTP server",
                       json_schema_extra={"fix": "give the SMTP server, e.g. "
                                                 "smtp.example.gov.cn"})
    port: Annotated[int, Strict()] | None = Field(
        None, description="the SMTP port; by default 465 for ssl, 587 for starttls, 25 for none",
        json_schema_extra={"fix": "use e.g. 465 or 587"})
    security: Literal["starttls", "ssl", "none"] = Field("starttls", description="how the "
                                                         "connection is encrypted")
    allow_plaintext_login: Annotated[bool, Strict()] = Field(
        False, description="log in over security none (the password in clear)",
        json_schema_extra={"fix": "write true or false"})
    username: Text | None = Field(None, description="SMTP login (with password_env or "
                                                    "password_block)")
    password_env: Text | None = Field(None, description="environment variable holding the "
                                                        "SMTP password")
    password_block: Text | None = Field(None, description="Prefect Secret block holding the "
                                                          "SMTP password")
    sender: Text = Field(description="the From address",
                         json_schema_extra={"fix": "give the From address, e.g. "
                                                   "jingyu@example.gov.cn"})
    to: tuple[str, ...] = Field(description="recipients (one address or a list)",
                                json_schema_extra={"fix": "write 'to: [duty@example.gov.cn]'"})
    timeout_seconds: Seconds = Field(
        10.0, gt=0, description="a hung server must not stall the cycle",
        json_schema_extra={"fix": "use a few seconds, e.g. 10"})

    @model_validator(mode="before")
    @classmethod
    def _defaults(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            if isinstance(data.get("to"), str):
                data["to"] = [data["to"]]
            if data.get("port") is None:
                data["port"] = SMTP_PORTS.get(data.get("security") or "starttls", 587)
        return data

    @field_validator("port")
    @classmethod
    def _port(cls, value: int | None) -> int | None:
        if value is not None and not 0 < value < 65536:
            raise ConfigProblem(f"not a TCP port: {value}", "use e.g. 465 or 587")
        return value

    @field_validator("sender")
    @classmethod
    def _sender(cls, value: str) -> str:
        if "@" not in value:
            raise ConfigProblem(f"not an email address: {value!r}",
                                "write an address such as jingyu@example.gov.cn")
        return value

    @field_validator("to", mode="before")
    @classmethod
    def _to(cls, value: Any) -> Any:
        if (not isinstance(value, list) or not value
                or not all(isinstance(r, str) and "@" in r for r in value)):
            raise ConfigProblem(f"must be a list of email addresses, got {value!r}",
                                "write 'to: [duty@example.gov.cn]'")
        return value

    @field_validator("password_env")
    @classmethod
    def _password_env(cls, value: str | None) -> str | None:
        return _env_name(value)

    @model_validator(mode="after")
    def _login(self) -> EmailOptions:
        has_password = bool(self.password_env or self.password_block)
        if self.username and not has_password:
            raise ConfigProblem("is required with username", "name the environment variable "
                                "holding the SMTP password", field="password_env")
        if has_password and not self.username:
            raise ConfigProblem("is required with a password", "give the SMTP login name",
                                field="username")
        if self.password_env and self.password_block:
            raise ConfigProblem("give password_env or password_block, not both",
                                "remove one of them", field="password_env")
        if self.security == "none" and self.username and not self.allow_plaintext_login:
            raise ConfigProblem("'none' would send the SMTP password unencrypted",
                                "use starttls or ssl; only for a relay on a trusted network, "
                                "add 'allow_plaintext_login: true'", field="security")
        return self

    def secrets(self) -> list[Secret]:
        return [("SMTP password", self.password_env, self.password_block)]


# kind name -> its options; the delivery registry (alerts.delivery.registry) has a channel
# class for each.
CHANNEL_OPTIONS: dict[str, type[ChannelOptions]] = {
    model.model_fields["kind"].default: model
    for model in (ConsoleOptions, JsonlOptions, WebhookOptions, DingTalkOptions, WeComOptions,
                  FeishuOptions, EmailOptions)}

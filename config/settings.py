"""Typed settings for every key of the contract.

Sources, strongest first: explicit arguments, ``SPORTELLO_`` environment variables
(nested keys joined by ``__``), the TOML file named by ``--config`` or
``SPORTELLO_CONFIG``. A missing file means defaults. A bad value raises
:class:`ConfigError` naming the key, never echoing the value (it may be a secret).
"""

from __future__ import annotations

import os
import re
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

TELEGRAM_API = "https://api.telegram.org"
GRAPH_API = "https://graph.facebook.com/v21.0"
X_API = "https://api.x.com"


class ConfigError(Exception):
    """The configuration cannot be used; the message names each bad key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatabaseSettings(_Section):
    url: str = "sqlite:///./var/sportello.db"
    pool_size: int = Field(default=10, ge=1)
    echo: bool = False

    @field_validator("url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        return value


class ApiSettings(_Section):
    tokens: list[SecretStr] = Field(default_factory=list)


class TelegramSettings(_Section):
    bot_token: SecretStr | None = None
    webhook_secret: SecretStr | None = None
    api_base_url: str = TELEGRAM_API
    mode: Literal["webhook", "polling"] = "webhook"
    poll_interval_s: float = Field(default=1.0, gt=0)

    @property
    def enabled(self) -> bool:
        return self.bot_token is not None


class WhatsAppSettings(_Section):
    app_secret: SecretStr | None = None
    verify_token: SecretStr | None = None
    access_token: SecretStr | None = None
    phone_number_id: str | None = None
    graph_base_url: str = GRAPH_API
    templates: dict[str, str] = Field(
        default_factory=dict,
        description="approved template name per use (away, survey, follow_up)",
    )
    template_language: str = "it"

    @property
    def enabled(self) -> bool:
        return self.access_token is not None and self.phone_number_id is not None


class MessengerSettings(_Section):
    app_secret: SecretStr | None = None
    verify_token: SecretStr | None = None
    page_access_token: SecretStr | None = None
    page_id: str | None = None
    graph_base_url: str = GRAPH_API
    message_tag: str | None = Field(
        default=None, description="tag for messages outside the 24h window, e.g. HUMAN_AGENT"
    )

    @property
    def enabled(self) -> bool:
        return self.page_access_token is not None and self.page_id is not None


class XSettings(_Section):
    bearer_token: SecretStr | None = None
    consumer_key: SecretStr | None = None
    consumer_secret: SecretStr | None = None
    access_token: SecretStr | None = None
    access_token_secret: SecretStr | None = None
    user_id: str | None = None
    api_base_url: str = X_API
    mode: Literal["polling", "webhook"] = "polling"
    poll_interval_s: float = Field(default=60, gt=0)
    requests_per_day: int | None = Field(default=None, ge=1)
    requests_per_month: int | None = Field(default=None, ge=1)

    @property
    def enabled(self) -> bool:
        return self.bearer_token is not None or self.access_token is not None


class ChannelsSettings(_Section):
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    whatsapp: WhatsAppSettings = Field(default_factory=WhatsAppSettings)
    messenger: MessengerSettings = Field(default_factory=MessengerSettings)
    x: XSettings = Field(default_factory=XSettings)


_PERIOD = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d$")


class BusinessHoursSettings(_Section):
    timezone: str = "Europe/Rome"
    holidays: str | None = "IT"
    mon: list[str] = Field(default_factory=list)
    tue: list[str] = Field(default_factory=list)
    wed: list[str] = Field(default_factory=list)
    thu: list[str] = Field(default_factory=list)
    fri: list[str] = Field(default_factory=list)
    sat: list[str] = Field(default_factory=list)
    sun: list[str] = Field(default_factory=list)
    closures: list[str] = Field(default_factory=list)
    openings: list[str] = Field(default_factory=list)

    @field_validator("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    @classmethod
    def _periods(cls, value: list[str]) -> list[str]:
        for period in value:
            parse_period(period)
        return value

    @field_validator("closures", "openings")
    @classmethod
    def _intervals(cls, value: list[str]) -> list[str]:
        for interval in value:
            parse_local_interval(interval)
        return value

    @field_validator("holidays")
    @classmethod
    def _holiday_code(cls, value: str | None) -> str | None:
        if value is not None:
            import holidays

            country, _, subdivision = value.partition("-")
            try:
                holidays.country_holidays(country, subdiv=subdivision or None)
            except NotImplementedError as exc:
                raise ValueError(f"no public holidays known for {value!r}") from exc
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


def parse_period(text: str) -> tuple[int, int]:
    """Start and end of ``HH:MM-HH:MM`` in minutes after the day's local midnight.

    An end at or before the start is on the next day (``21:00-02:00`` gives ``(1260, 1560)``);
    ``24:00`` is the end of the day. Equal start and end are refused as ambiguous.
    """
    if not _PERIOD.match(text):
        raise ValueError(f"period {text!r} is not HH:MM-HH:MM")
    start, end = (int(part[:2]) * 60 + int(part[3:]) for part in text.split("-"))
    if end > 24 * 60:
        raise ValueError(f"period {text!r} ends after 24:00")
    if start == end:
        raise ValueError(f"period {text!r} is empty; write 00:00-24:00 for a whole day")
    return start, end if end > start else end + 24 * 60


def parse_local_interval(text: str) -> tuple[datetime, datetime]:
    """Naive local start and end of a closure or opening.

    ``2026-12-24T13:00/2026-12-27T00:00`` runs from the first instant to the second,
    ``2026-08-10/2026-08-21`` covers both whole days inclusive, ``2026-08-14`` that whole day.
    """
    start_text, slash, end_text = text.partition("/")
    if not slash:
        end_text = start_text
    message = (
        f"interval {text!r} is not YYYY-MM-DD, YYYY-MM-DD/YYYY-MM-DD or "
        "YYYY-MM-DDTHH:MM/YYYY-MM-DDTHH:MM in local time with the start before the end"
    )
    out_of_range = f"interval {text!r} is out of range: from 1900 to 2999"
    try:
        if slash and "T" in start_text and "T" in end_text:
            start, end = datetime.fromisoformat(start_text), datetime.fromisoformat(end_text)
        elif "T" not in start_text + end_text:
            start = datetime.combine(date.fromisoformat(start_text), time())
            end = datetime.combine(date.fromisoformat(end_text) + timedelta(days=1), time())
        else:
            raise ValueError(message)
    except OverflowError:  # the day after 9999-12-31
        raise ValueError(out_of_range) from None
    except ValueError:
        raise ValueError(message) from None
    if start.year < 1900 or end.year >= 3000:  # the calendars step days from them
        raise ValueError(out_of_range)
    if start.tzinfo is not None or end.tzinfo is not None or end <= start:
        raise ValueError(message)
    return start, end


ChannelName = Literal["telegram", "whatsapp", "messenger", "x"]


def _all_channels() -> list[ChannelName]:
    return ["telegram", "whatsapp", "messenger", "x"]


def _duration_text(value: str) -> str:
    parse_duration(value)
    return value


Duration = Annotated[str, AfterValidator(_duration_text)]

PLACEHOLDERS = frozenset({"name", "next_open"})


def _templates(value: dict[str, str]) -> dict[str, str]:
    """Texts per language may use only ``{name}`` and ``{next_open}`` (``{{`` for a brace)."""
    import string

    for language, text in value.items():
        try:
            fields = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
        except ValueError as exc:
            raise ValueError(f"text.{language}: {exc}") from None
        unknown = fields - PLACEHOLDERS
        if unknown:
            raise ValueError(
                f"text.{language}: unknown placeholder {{{sorted(unknown)[0]}}}; "
                "use {name} or {next_open}"
            )
    return value


Templates = Annotated[dict[str, str], AfterValidator(_templates)]


class AwayMessageSettings(_Section):
    """One ``[[away_messages]]`` rule; the first rule matching a message's channel applies."""

    channels: list[ChannelName] = Field(default_factory=_all_channels)
    when: Literal["closed", "always"] = "closed"
    cooldown: Duration = "12h"
    text: Templates = Field(default_factory=dict)
    quiet_after_agent: Duration = Field(
        default="10m", description="no away message when an agent wrote this recently"
    )
    max_age: Duration = Field(
        default="1h", description="never answer a message older than this (a backlog)"
    )
    public: bool = Field(default=False, description="also answer public posts (X mentions)")


class SlaSettings(_Section):
    """One ``[[sla]]`` policy; the first whose channels, priorities and teams match applies."""

    name: str = "default"
    channels: list[ChannelName] = Field(default_factory=list, description="empty: every channel")
    priorities: list[int] = Field(default_factory=list, description="empty: every priority")
    teams: list[str] = Field(
        default_factory=list, description="the conversation's team; empty: any team, or none"
    )
    first_response: Duration | None = "1h"
    resolution: Duration | None = None
    warn_before: Duration | None = "15m"
    business_time: bool = Field(
        default=False, description="count only open business hours (default: calendar time)"
    )


class TriageRuleSettings(_Section):
    """One ``[[triage_rules]]`` rule: what to do with a conversation when a customer's message
    matches. Every matching rule applies, in order, until one marked ``stop`` (see
    ``docs/inbox.md``)."""

    name: str = Field(min_length=1, max_length=64)
    channels: list[ChannelName] = Field(default_factory=list, description="empty: every channel")
    keywords: list[str] = Field(
        default_factory=list,
        description="any of these words or phrases (any case, accents or not; 'rimbors*' "
        "for a prefix); empty: any message",
    )
    languages: list[str] = Field(default_factory=list, description="empty: any language")
    sentiment: Literal["negative", "neutral", "positive"] | None = None
    add_tags: list[str] = Field(default_factory=list)
    priority: int | None = Field(default=None, ge=0, le=3, description="raised to at least this")
    assign: str | None = Field(default=None, description="this agent, when nobody has it")
    team: str | None = Field(default=None, description="this team, when it has none")
    answer: Templates = Field(
        default_factory=dict,
        description="an automatic answer per language (it, en, ...), once per conversation "
        "until it is resolved; {name} and {next_open} as in away messages",
    )
    stop: bool = Field(default=False, description="when it matches, the rules after it are skipped")

    @field_validator("keywords", "add_tags")
    @classmethod
    def _no_blanks(cls, value: list[str]) -> list[str]:
        cleaned = [item.strip() for item in value]
        if any(not item or item == "*" for item in cleaned):
            raise ValueError("an empty word")
        return cleaned

    @field_validator("languages")
    @classmethod
    def _two_letters(cls, value: list[str]) -> list[str]:
        bad = [code for code in value if not re.fullmatch(r"[a-z]{2}", code)]
        if bad:
            raise ValueError(f"not two-letter language codes: {', '.join(bad)}")
        return value

    @model_validator(mode="after")
    def _does_something(self) -> TriageRuleSettings:
        acts = self.add_tags or self.priority is not None or self.assign or self.team
        if not acts and not self.answer:
            raise ValueError("a rule needs add_tags, priority, assign, team or answer")
        return self


def _unique_rule_names(rules: list[TriageRuleSettings]) -> list[TriageRuleSettings]:
    names = [rule.name for rule in rules]
    if len(set(names)) != len(names):
        raise ValueError("rule names must be unique")
    return rules


TriageRules = Annotated[list[TriageRuleSettings], AfterValidator(_unique_rule_names)]


class AssignmentSettings(_Section):
    """``[assignment]``: who gets a new conversation nobody has taken."""

    mode: Literal["off", "balanced"] = Field(
        default="off",
        description="balanced: to the available agent with the fewest open conversations",
    )
    max_open_per_agent: int = Field(
        default=0, ge=0, description="no more open conversations per agent than this (0: no cap)"
    )


class WindowReminderSettings(_Section):
    """Before a platform's 24-hour window closes on a customer still waiting for us."""

    enabled: bool = True
    channels: list[ChannelName] = Field(
        default_factory=lambda: list[ChannelName](("whatsapp", "messenger"))
    )
    before: Duration = "1h"
    action: Literal["alert", "remind"] = Field(
        default="alert", description="alert: flag and record only; remind: also message them"
    )
    text: Templates = Field(default_factory=dict)


class RetentionSettings(_Section):
    """Clean-up of processed raw deliveries (the journal)."""

    deliveries_after: Duration | None = Field(default="30d", description="None keeps them forever")
    deliveries_action: Literal["drop_body", "delete"] = "drop_body"


class AutoResolveSettings(_Section):
    """``[auto_resolve]``: answered conversations the customer has let go quiet."""

    after: Duration | None = Field(
        default=None,
        description="resolve an answered conversation quiet this long (e.g. 3d); None: never",
    )


class SurveySettings(_Section):
    """``[surveys]``: the satisfaction question asked in the chat after a resolution."""

    enabled: bool = False
    kind: Literal["csat", "nps", "ces"] = "csat"
    delay: str = "10m"
    sample_rate: float = Field(default=1.0, ge=0.0, le=1.0)
    answer_window: str = "24h"
    channels: list[ChannelName] = Field(default_factory=lambda: list(get_args(ChannelName)))
    text: dict[str, str] = Field(default_factory=dict, description="question per language")
    thanks: dict[str, str] = Field(default_factory=dict, description="thanks per language")
    reask: dict[str, str] = Field(default_factory=dict, description="re-ask per language")
    comment: Literal["off", "low", "all"] = Field(
        default="low",
        description="after which scores to ask why (low: CSAT 1-3, NPS 0-6, CES 1-3)",
    )
    comment_window: str = "1h"
    comment_question: dict[str, str] = Field(
        default_factory=dict, description="the question asking why, per language"
    )
    comment_thanks: dict[str, str] = Field(
        default_factory=dict, description="thanks for the comment, per language"
    )

    @field_validator("delay", "answer_window", "comment_window")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value


class KpiSettings(_Section):
    """``[kpis]``: knobs of the customer-care figures."""

    fcr_window: str = "7d"

    @field_validator("fcr_window")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_url: str | None = None


class BrandSettings(_Section):
    name: str = "sportello"
    default_language: Literal["it", "en"] = "it"


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_DURATION_S = 100 * 365 * 86400


def parse_duration(text: str) -> float:
    """Seconds in a duration such as ``90s``, ``15m``, ``12h`` or ``2d``."""
    match = _DURATION.match(text.strip())
    if not match:
        raise ValueError(f"duration {text!r} is not a number followed by s, m, h or d")
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds > MAX_DURATION_S:
        raise ValueError(f"duration {text!r} is longer than 100 years")
    return seconds


class FeedSettings(_Section):
    """One RSS/Atom feed to watch (a Google Alerts feed, a news search)."""

    name: str = Field(min_length=1)
    url: str = Field(min_length=1)
    topic: str = Field(default="brand", description="'brand' or a competitor's name")


class ListeningSettings(_Section):
    """Brand listening: X recent-search queries and feeds, polled by the scheduler."""

    queries: list[str] = Field(default_factory=list, description="X search queries for the brand")
    competitor_queries: dict[str, str] = Field(
        default_factory=dict, description="competitor name -> X search query (share of voice)"
    )
    feeds: list[FeedSettings] = Field(default_factory=list)
    x_poll_interval: str = "5m"
    feed_poll_interval: str = "15m"
    exclude_retweets: bool = True
    exclude_own: bool = Field(default=True, description="leave out posts of channels.x.user_id")

    @field_validator("x_poll_interval", "feed_poll_interval")
    @classmethod
    def _interval(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("competitor_queries")
    @classmethod
    def _not_brand(cls, value: dict[str, str]) -> dict[str, str]:
        if "brand" in value:
            raise ValueError("'brand' is the topic of the brand queries; name the competitor")
        return value


AlertSource = Literal["x", "feed", "messages"]


class AlertRuleSettings(_Section):
    """One alert rule; ``kind`` picks which of the other keys apply (docs/listening.md)."""

    name: str = Field(min_length=1)
    kind: Literal["negative_share", "volume_spike", "keyword"]
    sources: list[AlertSource] = Field(default_factory=lambda: list(get_args(AlertSource)))
    languages: list[str] = Field(default_factory=list, description="empty: every language")
    window: str = "1h"
    cooldown: str = "1h"
    threshold: float = Field(default=0.4, gt=0, le=1, description="negative share")
    min_volume: int | None = Field(
        default=None, ge=1, description="default: 10 negative_share, 5 volume_spike, 1 keyword"
    )
    baseline_weeks: int = Field(default=4, ge=1, le=52)
    k: float = Field(default=3.0, gt=0, description="spike above median + k * MAD")
    keywords: list[str] = Field(default_factory=list)
    sinks: list[str] = Field(default_factory=list, description="sink names; empty: all sinks")

    @field_validator("window", "cooldown")
    @classmethod
    def _duration(cls, value: str) -> str:
        parse_duration(value)
        return value


class AlertSinkSettings(_Section):
    """Where alerts go: a Telegram chat via our bot, a JSON webhook, or e-mail."""

    name: str = Field(min_length=1)
    kind: Literal["telegram", "webhook", "email"]
    chat_id: str | None = None
    url: str | None = None
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    email_from: str = "sportello@localhost"
    email_to: list[str] = Field(default_factory=list)

    @field_validator("email_to")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if "@" not in address:
                raise ValueError(f"{address!r} is not an e-mail address")
        return value

    def model_post_init(self, _context: Any) -> None:
        needed = {"telegram": ("chat_id", self.chat_id), "webhook": ("url", self.url)}
        if self.kind in needed and not needed[self.kind][1]:
            raise ValueError(f"a {self.kind} sink needs {needed[self.kind][0]}")
        if self.kind == "email" and not self.email_to:
            raise ValueError("an email sink needs email_to")


class AlertsSettings(_Section):
    rules: list[AlertRuleSettings] = Field(default_factory=list)
    sinks: list[AlertSinkSettings] = Field(default_factory=list)
    evaluate_interval: str = "1m"
    deliver_interval: str = "15s"

    @field_validator("evaluate_interval", "deliver_interval")
    @classmethod
    def _interval(cls, value: str) -> str:
        parse_duration(value)
        return value


class WebhookSettings(_Section):
    """``[[integrations.webhooks]]``: the events named in ``events`` POSTed as JSON to
    ``url`` (see ``docs/integrations.md``), signed with ``secret`` when given."""

    name: str = Field(min_length=1, max_length=64)
    url: str
    secret: SecretStr | None = None
    events: list[str] = Field(
        default_factory=lambda: ["*"],
        description='names or patterns: "message.created", "conversation.*", "*"',
    )

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value


class IntegrationsSettings(_Section):
    webhooks: list[WebhookSettings] = Field(default_factory=list)
    keep_delivered: Duration = Field(default="7d", description="delivered deliveries deleted after")
    keep_failed: Duration = Field(default="30d", description="failed deliveries deleted after")

    @field_validator("webhooks")
    @classmethod
    def _unique_names(cls, value: list[WebhookSettings]) -> list[WebhookSettings]:
        names = [webhook.name for webhook in value]
        if len(set(names)) != len(names):
            raise ValueError("webhook names must be unique")
        return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SPORTELLO_",
        env_nested_delimiter="__",
        extra="forbid",
        nested_model_default_partial_update=True,
    )

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    brand: BrandSettings = Field(default_factory=BrandSettings)
    channels: ChannelsSettings = Field(default_factory=ChannelsSettings)
    business_hours: BusinessHoursSettings | None = None
    away_messages: list[AwayMessageSettings] = Field(default_factory=list)
    sla: list[SlaSettings] = Field(default_factory=list)
    assignment: AssignmentSettings | None = None
    triage_rules: TriageRules = Field(default_factory=list)
    window_reminder: WindowReminderSettings = Field(default_factory=WindowReminderSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    auto_resolve: AutoResolveSettings = Field(default_factory=AutoResolveSettings)
    listening: ListeningSettings = Field(default_factory=ListeningSettings)
    alerts: AlertsSettings = Field(default_factory=AlertsSettings)

    @model_validator(mode="after")
    def _alert_sinks_usable(self) -> Settings:
        names = {sink.name for sink in self.alerts.sinks}
        for sink in self.alerts.sinks:
            if sink.kind == "telegram" and not self.channels.telegram.enabled:
                raise ValueError(f"alerts.sinks {sink.name}: needs channels.telegram.bot_token")
        for rule in self.alerts.rules:
            unknown = sorted(set(rule.sinks) - names)
            if unknown:
                raise ValueError(f"alerts.rules {rule.name}: unknown sinks {', '.join(unknown)}")
        return self

    surveys: SurveySettings = Field(default_factory=SurveySettings)
    kpis: KpiSettings = Field(default_factory=KpiSettings)
    integrations: IntegrationsSettings = Field(default_factory=IntegrationsSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = _CONFIG_FILE.get("path")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)


# The TOML path for the load in progress; pydantic-settings asks for sources on a class.
_CONFIG_FILE: dict[str, Path | None] = {}


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors(include_input=False, include_url=False):
        key = ".".join(str(part) for part in item["loc"]) or "(root)"
        lines.append(f"  {key}: {item['msg']}")
    return "invalid configuration:\n" + "\n".join(lines)


def load_settings(path: str | Path | None = None, **overrides: Any) -> Settings:
    """Load settings from ``path`` (or ``SPORTELLO_CONFIG``), the environment and overrides."""
    import tomllib

    chosen = path or os.environ.get("SPORTELLO_CONFIG")
    toml_path = Path(chosen) if chosen else None
    if toml_path is not None and toml_path.exists():
        try:
            tomllib.loads(toml_path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"invalid configuration file {toml_path}: {exc}") from exc
    else:
        toml_path = None
    _CONFIG_FILE["path"] = toml_path
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    finally:
        _CONFIG_FILE.pop("path", None)

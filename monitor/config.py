"""closeloop configuration: one TOML file loaded once into a frozen, validated object.

Every key has a default and a line of help (the ``description`` of its field); ``config.toml`` at the
repository root documents them all, and a test keeps the two in step. Secrets never appear here: a
setting that needs one names the environment variable that holds it.
"""

from __future__ import annotations

import os
import re
import socket
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DEFAULT_MODEL = "cardiffnlp/twitter-xlm-roberta-base-sentiment"
# A commit of the model repository on the Hugging Face hub; pinned so a push upstream cannot change scores.
DEFAULT_MODEL_REVISION = "f3e34b6c30bf27b6649f72eca85d0bbe79df1e55"

Platform = Literal["x", "reddit", "mastodon", "bluesky", "replay"]
LANGUAGES = ("en", "da", "fi", "et", "he", "ko")


class ConfigError(Exception):
    """A configuration file that cannot be used; the message names the key and the file."""


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AppSettings(_Section):
    timezone: str = Field("UTC", description="IANA timezone for business hours and the digest's week.")
    response_target_minutes: int = Field(
        60, gt=0, le=24 * 60, description="Minutes from a post's created_at to the first-response deadline."
    )
    data_dir: str = Field(".", description="Directory for the default SQLite database and other local state.")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r}") from exc
        return value


class DatabaseSettings(_Section):
    url: str = Field(
        "sqlite:///closeloop.db",
        description="SQLAlchemy URL; a relative SQLite path is under app.data_dir. "
        "CLOSELOOP_DATABASE_URL overrides it.",
    )
    echo: bool = Field(False, description="Log every SQL statement (debugging only).")

    @field_validator("url")
    @classmethod
    def _supported(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://")):
            raise ValueError("must be a sqlite:// or postgresql:// URL")
        return value


class BrandHandles(_Section):
    x: str | None = Field(None, description="The brand's X username, without @.")
    reddit: str | None = Field(None, description="The brand's Reddit username, without u/.")
    mastodon: str | None = Field(None, description="The brand's Mastodon account, as user@instance.")
    bluesky: str | None = Field(None, description="The brand's Bluesky handle, e.g. acme.bsky.social.")


class Brand(_Section):
    name: str = Field(description="Display name of the brand.")
    handles: BrandHandles = Field(default_factory=BrandHandles, description="The brand's own accounts.")
    keywords: tuple[str, ...] = Field(
        (), description="Words that make a post a mention of this brand (case-insensitive)."
    )
    default_language: str = Field("en", description="Language of replies when a post's language is unknown.")
    watch_terms: tuple[str, ...] = Field(
        (), description="Words and phrases the crisis radar always counts as topics for this brand (product "
        "names, \"outage\", \"recall\", \"hacked\"); a trailing * makes a stem."
    )

    @field_validator("keywords", "watch_terms")
    @classmethod
    def _keywords_not_blank(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if any(not k.strip() for k in value):
            raise ValueError("must not hold blank entries")
        if any(len(k.strip()) > 100 for k in value):
            raise ValueError("entries are at most 100 characters")
        return tuple(k.strip() for k in value)


class Agent(_Section):
    name: str = Field(description="The agent's real name, as customers see it.")
    signature: str = Field(description="How the agent signs a reply, e.g. '– Maria'.")
    languages: tuple[str, ...] = Field(("en",), description="Languages the agent answers in (ISO 639-1).")
    email: str | None = Field(None, description="Where escalations for this agent go.")

    @field_validator("signature")
    @classmethod
    def _signature_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("signature must not be blank")
        return value.strip()


class ScoringSettings(_Section):
    backend: Literal["auto", "transformers", "lexicon"] = Field(
        "auto",
        description="auto: the transformers model, falling back (loudly, once) to the lexicon when it "
        "cannot be loaded; transformers: fail start-up without it; lexicon: VADER/AFINN only.",
    )
    model: str = Field(DEFAULT_MODEL, description="Hugging Face model id, or a local model directory.")
    revision: str = Field(DEFAULT_MODEL_REVISION, description="Pinned model revision (commit) on the hub.")
    allow_download: bool = Field(
        False, description="Let the scorer download the model; otherwise only the local cache is used."
    )
    batch_size: int = Field(32, gt=0, le=1024, description="Most texts in one forward pass.")
    max_length: int = Field(128, ge=16, le=512, description="Tokens kept per text; longer texts are truncated.")
    quantize: bool = Field(True, description="Run linear layers in int8 on CPU (dynamic quantization).")
    threads: int = Field(0, ge=0, description="torch intra-op threads; 0 uses every core.")
    negative_threshold: float = Field(
        0.5, gt=0, lt=1, description="Least negative score that makes a post a complaint on its own."
    )


class RankingSettings(_Section):
    repeat_window_days: int = Field(7, gt=0, description="Earlier complaints this recent make a repeat complainer.")
    severity_words: Mapping[str, tuple[str, ...]] = Field(
        default_factory=lambda: {
            "en": ("refund", "cancel", "outage", "down", "scam", "lawyer", "charged twice", "broken", "never arrived"),
        },
        description="Words that raise urgency, per language (ISO 639-1).",
    )

    @field_validator("severity_words")
    @classmethod
    def _lowercase(cls, value: Mapping[str, tuple[str, ...]]) -> Mapping[str, tuple[str, ...]]:
        return {lang: tuple(w.strip().lower() for w in words if w.strip()) for lang, words in value.items()}


class SourceSettings(_Section):
    name: str = Field(description="Unique name of this source, used in logs and the console.")
    platform: Platform = Field(description="x, reddit, mastodon, bluesky or replay.")
    brand: str | None = Field(None, description="The brand this source watches; the first brand when omitted.")
    interval_seconds: int = Field(300, ge=10, description="Seconds between polls.")
    enabled: bool = Field(True, description="A disabled source is kept but never polled.")
    path: str | None = Field(None, description="replay: the JSONL file to read.")
    credentials_env: Mapping[str, str] = Field(
        default_factory=dict,
        description="Names of the environment variables holding this source's secrets, by role.",
    )
    options: Mapping[str, Any] = Field(default_factory=dict, description="Platform-specific options.")

    @model_validator(mode="after")
    def _replay_needs_path(self) -> SourceSettings:
        if self.platform == "replay" and not self.path:
            raise ValueError("a replay source needs path")
        return self


class DaemonSettings(_Section):
    node_id: str = Field(
        default_factory=socket.gethostname,
        description="This daemon's name in leases; keep it stable across restarts (default: the hostname).",
    )
    roles: tuple[Literal["poll", "score", "post", "web", "digest"], ...] = Field(
        ("poll", "score", "post", "web", "digest"),
        description="What `closeloop run` does here (poll, score, post, web, digest); --roles overrides it.",
    )
    poll_tick_seconds: float = Field(5, gt=0, description="How often due sources are claimed and polled.")
    process_tick_seconds: float = Field(5, gt=0, description="How often new mentions are scored, triaged, drafted.")
    post_tick_seconds: float = Field(5, gt=0, description="How often approved replies are sent.")
    followup_interval_seconds: int = Field(
        600, ge=10, description="How often the thread of each open case is polled for the customer's replies."
    )
    source_lease_seconds: int = Field(300, ge=5, description="How long a claimed source stays ours without news.")
    send_lease_seconds: int = Field(120, ge=1, description="How long a claimed reply stays ours while sending.")
    reconcile_settle_seconds: int = Field(
        60, ge=0, description="How long a reply whose outcome is unknown settles before it is looked up."
    )
    max_pages_per_poll: int = Field(10, ge=1, description="Most pages one poll reads before yielding to others.")
    sources_per_tick: int = Field(10, ge=1, description="Most sources one tick claims.")
    health_host: str = Field("127.0.0.1", description="Address of /healthz, /readyz and /metrics.")
    health_port: int = Field(
        9464, ge=0, le=65535, description="Port of /healthz, /readyz and /metrics; 0 turns the endpoint off."
    )
    stop_timeout_seconds: float = Field(
        30, gt=0, description="Longest a SIGTERM waits for running steps before claims are released and it exits."
    )


class ConsoleSettings(_Section):
    host: str = Field("127.0.0.1", description="Address the web console listens on.")
    port: int = Field(8080, ge=1, le=65535, description="Port the web console listens on.")
    session_hours: int = Field(12, ge=1, le=24 * 30, description="How long a console login lasts.")
    secure_cookies: bool = Field(
        False, description="Mark cookies Secure (set true when the console is served over HTTPS)."
    )
    login_attempts_per_15_minutes: int = Field(
        5, ge=1, description="Failed logins allowed per name, and per address, in 15 minutes."
    )
    edit_lock_minutes: int = Field(10, ge=1, description="How long an open editor keeps a case claimed.")


class ResolutionSettings(_Section):
    unresolved_after_days: int = Field(
        5, ge=1, description="A responded case with no confirmation this long becomes unresolved."
    )
    reopen_window_days: int = Field(
        14, ge=1, description="The same author complaining again this soon after resolution reopens the case."
    )
    resolution_target_hours: int = Field(
        72, ge=1, description="Resolution target; an unresolved case past it escalates to the supervisor."
    )
    escalate_minutes_before_deadline: int = Field(
        10, ge=0, description="Escalate an unanswered case this many minutes before its response deadline."
    )
    supervisor_email: str | None = Field(None, description="Who escalations are emailed to.")
    csat_followup: bool = Field(True, description="Draft a satisfaction follow-up when a case is resolved.")


class SmtpSettings(_Section):
    host: str = Field("127.0.0.1", description="SMTP server.")
    port: int = Field(25, ge=1, le=65535, description="SMTP port (587 for STARTTLS, 465 for TLS).")
    security: Literal["none", "starttls", "tls"] = Field("none", description="none, starttls or tls.")
    user: str | None = Field(None, description="SMTP user name, if the server needs a login.")
    password_env: str = Field("CLOSELOOP_SMTP_PASSWORD", description="Environment variable holding the SMTP password.")
    sender: str = Field("closeloop@localhost", description="The From address of digests and escalations.")
    timeout_seconds: float = Field(30, gt=0, description="SMTP connection timeout.")


class DigestSettings(_Section):
    recipients: tuple[str, ...] = Field((), description="Who receives the weekly digest.")
    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = Field(
        "mon", description="Day the digest is sent (in app.timezone)."
    )
    hour: int = Field(8, ge=0, le=23, description="Hour the digest is sent (in app.timezone).")


class RadarSettings(_Section):
    enabled: bool = Field(True, description="Watch every brand for spikes of mentions about one thing.")
    window_minutes: int = Field(15, ge=1, le=24 * 60, description="The short window whose rate is compared "
                                "with the baseline.")
    step_seconds: int = Field(60, ge=1, le=3600, description="How finely a backlog (an ingested file, a "
                              "daemon catching up) is replayed: one look per step that has posts.")
    rise_factor: float = Field(4.0, gt=1, description="A topic is hot when its rate in the window is at least "
                               "this many times its baseline (or the floor).")
    floor_per_hour: float = Field(4.0, gt=0, description="Least baseline, in mentions per hour, a rate is "
                                  "compared with, so a quiet brand or a new word is not 'infinitely' above it.")
    min_mentions: int = Field(10, ge=1, description="Least mentions (or complaints) of a topic in the window "
                              "for a spike.")
    min_authors: int = Field(8, ge=1, description="Least distinct authors among them: one loud account is not "
                             "a crisis.")
    max_chance: float = Field(1e-6, gt=0, lt=1, description="Largest chance that a topic's usual rate alone "
                              "gives the window's count (a Poisson tail); smaller is stricter.")
    close_factor: float = Field(2.0, gt=0, description="A spike subsides when its rate falls below this many "
                                "times its baseline (or the floor)...")
    quiet_minutes: int = Field(30, ge=0, description="...and closes once it has stayed below that this long.")
    recent_days: int = Field(7, ge=1, le=60, description="Baseline: the same hour on each of this many recent "
                             "days (their median).")
    baseline_weeks: int = Field(4, ge=0, le=12, description="Baseline: the same hour of the week in this many "
                                "past weeks (their median); the higher of the two baselines counts.")
    warmup_hours: int = Field(72, ge=0, description="No spike is raised for a brand until the radar has "
                              "counted its mentions this long (it learns the brand's days first).")
    share_half_life_days: float = Field(7.0, gt=0, description="How fast a topic's usual share of a brand's "
                                        "mentions is forgotten (half-life).")
    topic_words: int = Field(6, ge=1, le=20, description="Most words that name a spike's topic.")
    recipients: tuple[str, ...] = Field((), description="Who is mailed when a spike opens, and again when it "
                                        "grows.")
    growth_factor: float = Field(3.0, gt=1, description="An open spike is mailed again each time its mentions "
                                 "have grown by this factor since the last mail.")

    @field_validator("recipients")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            if not re.fullmatch(r"[^@\s<>\"',;]+@[^@\s<>\"',;]+", entry.strip()):
                raise ValueError(f"not a single e-mail address: {entry!r}")
        return tuple(entry.strip() for entry in value)


class Settings(_Section):
    app: AppSettings = Field(default_factory=AppSettings, description="Process-wide settings.")
    database: DatabaseSettings = Field(default_factory=DatabaseSettings, description="Where closeloop stores state.")
    brands: tuple[Brand, ...] = Field(
        (Brand(name="Acme", keywords=("acme",)),), min_length=1, description="The brands watched."
    )
    agents: tuple[Agent, ...] = Field(
        (Agent(name="Care Team", signature="– the Acme care team"),),
        min_length=1,
        description="The people who sign replies.",
    )
    scoring: ScoringSettings = Field(default_factory=ScoringSettings, description="The sentiment scorer.")
    ranking: RankingSettings = Field(default_factory=RankingSettings, description="The urgency ranker.")
    sources: tuple[SourceSettings, ...] = Field((), description="Where mentions come from.")
    daemon: DaemonSettings = Field(default_factory=DaemonSettings, description="`closeloop run`.")
    console: ConsoleSettings = Field(default_factory=ConsoleSettings, description="The web console.")
    resolution: ResolutionSettings = Field(default_factory=ResolutionSettings, description="Resolution tracking.")
    smtp: SmtpSettings = Field(default_factory=SmtpSettings, description="Outgoing mail.")
    digest: DigestSettings = Field(default_factory=DigestSettings, description="The weekly digest.")
    radar: RadarSettings = Field(default_factory=RadarSettings, description="The crisis radar (spike alerts).")

    @model_validator(mode="after")
    def _unique_names(self) -> Settings:
        names = [s.name for s in self.sources]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"source names must be unique: {', '.join(duplicated)}")
        brands = {b.name for b in self.brands}
        for source in self.sources:
            if source.brand is not None and source.brand not in brands:
                raise ValueError(f"source {source.name!r} names unknown brand {source.brand!r}")
        return self

    def brand(self, name: str | None) -> Brand:
        """The brand called ``name``; the first brand for None."""
        if name is None:
            return self.brands[0]
        for brand in self.brands:
            if brand.name == name:
                return brand
        raise KeyError(name)

    def database_url(self) -> str:
        """The database URL with relative SQLite paths resolved under ``app.data_dir``."""
        url = self.database.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and url != "sqlite:///:memory:":
            path = Path(url[len(prefix) :])
            if not path.is_absolute():
                path = Path(self.app.data_dir) / path
            return prefix + str(path)
        return url


def _format_error(error: ValidationError, origin: str) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        lines.append(f"{origin}: {key}: {item['msg']}")
    return "\n".join(lines)


def parse_settings(data: Mapping[str, Any], *, origin: str = "config", env: Mapping[str, str] | None = None) -> Settings:
    """Validate a config mapping, applying environment overrides; raises ConfigError naming the key."""
    env = os.environ if env is None else env
    merged: dict[str, Any] = dict(data)
    if env.get("CLOSELOOP_DATABASE_URL"):
        merged["database"] = {**dict(merged.get("database", {})), "url": env["CLOSELOOP_DATABASE_URL"]}
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(_format_error(exc, origin)) from None


def load_settings(path: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None) -> Settings:
    """Load settings from ``path``, else $CLOSELOOP_CONFIG, else ./config.toml, else the defaults."""
    env = os.environ if env is None else env
    chosen = path or env.get("CLOSELOOP_CONFIG")
    if chosen is None:
        candidate = Path("config.toml")
        if not candidate.exists():
            return parse_settings({}, origin="defaults", env=env)
        chosen = candidate
    file = Path(chosen)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    settings = parse_settings(data, origin=str(file), env=env)
    if "data_dir" not in data.get("app", {}):
        # Relative paths in a config file are relative to the file, not to where the command runs.
        settings = settings.model_copy(update={"app": settings.app.model_copy(update={"data_dir": str(file.parent.resolve())})})
    return settings


def documented_keys(model: type[BaseModel] = Settings, prefix: str = "") -> dict[str, str]:
    """Every settable key, dotted, with its help line (used by the docs test and `closeloop config`)."""
    keys: dict[str, str] = {}
    for name, field in model.model_fields.items():
        dotted = f"{prefix}{name}"
        annotation = field.annotation
        nested = _nested_model(annotation)
        if nested is not None:
            keys.update(documented_keys(nested, dotted + "."))
        else:
            keys[dotted] = field.description or ""
    return keys


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _nested_model(arg)
        if found is not None:
            return found
    return None


__all__ = [
    "LANGUAGES",
    "Agent",
    "AppSettings",
    "Brand",
    "ConfigError",
    "DatabaseSettings",
    "RadarSettings",
    "RankingSettings",
    "ScoringSettings",
    "Settings",
    "SourceSettings",
    "documented_keys",
    "load_settings",
    "parse_settings",
]

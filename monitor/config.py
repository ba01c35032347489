"""closeloop configuration: one TOML file and the environment, loaded once into a frozen, validated object.

Every key has a default and a line of help (the ``description`` of its field); ``config.toml`` at the
repository root documents them all, and a test keeps the two in step. Every key can also come from a
``CLOSELOOP_<SECTION>__<KEY>`` environment variable (pydantic-settings; lists and tables as JSON), and the
environment wins over the file, which wins over the defaults. Booleans are ``true`` or ``false``, nothing
else. A bad value is reported naming the key and where it came from (the file or the variable). Secrets
never appear here: a setting that needs one names the environment variable that holds it.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from monitor import config_loading
from monitor.config_console import Snippet
from monitor.config_drafting import BrandFacts, DraftingSettings
from monitor.config_loading import ConfigError, ConfigNotFound, find_config
from monitor.config_radar import RadarSettings
from monitor.config_section import Section
from monitor.config_sources import Agent, Brand, BrandHandles, IntakeSettings, Platform, SourceSettings

DEFAULT_MODEL = "cardiffnlp/twitter-xlm-roberta-base-sentiment"
# A commit of the model repository on the Hugging Face hub; pinned so a push upstream cannot change scores.
DEFAULT_MODEL_REVISION = "f3e34b6c30bf27b6649f72eca85d0bbe79df1e55"

LANGUAGES = ("en", "da", "fi", "et", "he", "ko")


class AppSettings(Section):
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


class DatabaseSettings(Section):
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


class ScoringSettings(Section):
    backend: Literal["auto", "transformers", "offline", "lexicon"] = Field(
        "auto",
        description="auto: the transformers model, falling back (loudly, once) to the bundled offline model "
        "when it cannot be loaded; transformers: fail start-up without it; offline: the bundled offline model "
        "only (en, da, fi, et, he, ko; no download); lexicon: VADER/AFINN only (English and Danish).",
    )
    model: str = Field(DEFAULT_MODEL, description="Hugging Face model id, or a local model directory.")
    revision: str = Field(DEFAULT_MODEL_REVISION, description="Pinned model revision (commit) on the hub.")
    cache_dir: str | None = Field(
        None, description="Hub cache for the model (`closeloop model download`); unset: HF_HUB_CACHE, else HF_HOME/hub."
    )
    allow_download: bool = Field(
        False, description="Let the scorer download the model; otherwise only the local cache is used."
    )
    batch_size: int = Field(32, gt=0, le=1024, description="Most texts in one forward pass.")
    max_length: int = Field(128, ge=16, le=512, description="Tokens kept per text; longer texts are truncated.")
    quantize: bool = Field(True, description="Run linear layers in int8 on CPU (dynamic quantization).")
    threads: int = Field(0, ge=0, description="Intra-op threads (torch or ONNX Runtime); 0 uses every core.")
    runtime: Literal["auto", "torch", "onnx"] = Field(
        "auto",
        description="onnx: the fast path, the model exported once to ONNX, int8, run by ONNX Runtime (cached beside "
        "the model; `closeloop model download` prepares it); torch: the reference model; auto: onnx when prepared.",
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="auto: a visible GPU, else the CPU; cuda: a GPU (fp16 under torch) or fail to load."
    )
    negative_threshold: float = Field(
        0.5, gt=0, lt=1, description="Least negative score that makes a post a complaint on its own."
    )


class RankingSettings(Section):
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


class DaemonSettings(Section):
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


class ConsoleSettings(Section):
    host: str = Field("127.0.0.1", description="Address the web console listens on.")
    port: int = Field(8080, ge=1, le=65535, description="Port the web console listens on.")
    session_hours: int = Field(12, ge=1, le=24 * 30, description="How long a console login lasts.")
    secure_cookies: bool = Field(
        False, description="Mark cookies Secure (set true when the console is served over HTTPS)."
    )
    login_attempts_per_15_minutes: int = Field(
        5, ge=1, description="Failed logins allowed for one name from one address in 15 minutes; then that pair waits."
    )
    login_attempts_per_name_per_hour: int = Field(
        30, ge=1, description="Failed logins allowed for one name from all addresses together in an hour."
    )
    password_min_length: int = Field(
        12, ge=8, le=1024, description="Fewest characters in a console password (users add, the admin page)."
    )
    trusted_proxies: tuple[str, ...] = Field(
        (),
        description="Addresses or networks (CIDR) of reverse proxies whose X-Forwarded-For/-Proto are believed; "
        "none by default, so no client can choose the address that is throttled and audited.",
    )
    edit_lock_minutes: int = Field(10, ge=1, description="How long an open editor keeps a case claimed.")
    undo_seconds: int = Field(10, ge=0, le=600, description="How long an approval can be undone before the outbox "
                              "sends it (0: no undo).")
    snippets: tuple[Snippet, ...] = Field((), description="Canned snippets agents insert into a reply.")

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network") from None
        return value


class ResolutionSettings(Section):
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


class SmtpSettings(Section):
    host: str = Field("127.0.0.1", description="SMTP server.")
    port: int = Field(25, ge=1, le=65535, description="SMTP port (587 for STARTTLS, 465 for TLS).")
    security: Literal["none", "starttls", "tls"] = Field("none", description="none, starttls or tls.")
    user: str | None = Field(None, description="SMTP user name, if the server needs a login.")
    password_env: str = Field("CLOSELOOP_SMTP_PASSWORD", description="Environment variable holding the SMTP password.")
    sender: str = Field("closeloop@localhost", description="The From address of digests and escalations.")
    timeout_seconds: float = Field(30, gt=0, description="SMTP connection timeout.")


class DigestSettings(Section):
    recipients: tuple[str, ...] = Field((), description="Who receives the weekly digest.")
    weekday: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"] = Field(
        "mon", description="Day the digest is sent (in app.timezone)."
    )
    hour: int = Field(8, ge=0, le=23, description="Hour the digest is sent (in app.timezone).")


class Settings(BaseSettings):
    """The whole configuration. Built by ``parse_settings``/``load_settings``, which layer the environment
    over the file over these defaults; ``Settings.model_validate`` alone reads no environment."""

    model_config = SettingsConfigDict(frozen=True, extra="forbid", env_prefix="CLOSELOOP_",
                                      env_nested_delimiter="__", case_sensitive=False)

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
    intake: IntakeSettings = Field(default_factory=IntakeSettings, description="What a post must be to get in.")
    drafting: DraftingSettings = Field(default_factory=DraftingSettings, description="How replies are drafted.")
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


# How settings are read (the environment over the file over the defaults) is monitor.config_loading's; these
# are its functions bound to ``Settings``, for every caller that imports them from here.
def parse_settings(data: Mapping[str, Any], *, origin: str = "config", env: Mapping[str, str] | None = None,
                   base_dir: str | os.PathLike[str] | None = None) -> Settings:
    """Validate a config mapping with the CLOSELOOP_* environment over it (see config_loading.parse_settings)."""
    return config_loading.parse_settings(Settings, data, origin=origin, env=env, base_dir=base_dir)


def load_settings(path: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None,
                  defaults: bool = False) -> Settings:
    """Settings from the file ``find_config`` picks, or the defaults (see config_loading.load_settings)."""
    return config_loading.load_settings(Settings, path, env=env, defaults=defaults)


def documented_keys(model: type[BaseModel] | None = None, prefix: str = "") -> dict[str, str]:
    """Every settable key, dotted, with its help line (used by the docs test and `closeloop config`)."""
    return config_loading.documented_keys(model or Settings, prefix)


__all__ = [
    "LANGUAGES",
    "Agent",
    "AppSettings",
    "Brand",
    "BrandFacts",
    "BrandHandles",
    "ConfigError",
    "ConfigNotFound",
    "DatabaseSettings",
    "DraftingSettings",
    "IntakeSettings",
    "Platform",
    "RadarSettings",
    "RankingSettings",
    "ScoringSettings",
    "Settings",
    "SourceSettings",
    "documented_keys",
    "find_config",
    "load_settings",
    "parse_settings",
]

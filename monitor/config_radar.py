"""The crisis radar's settings (the `[radar]` section): what makes a spike, and who hears of it."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from monitor.config_section import Section


class RadarSettings(Section):
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

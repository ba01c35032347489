"""The base of every config section: frozen, no unknown keys, and booleans that are only true or false."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator


def strict_flag(cls: type[BaseModel], value: Any, info: ValidationInfo) -> Any:
    """Booleans are true or false: never "yes", "on", 1 or any other truthy value (every section's fields)."""
    field = cls.model_fields.get(info.field_name or "")
    flag = field is not None and (field.annotation is bool or field.annotation == bool | None)
    if not flag or isinstance(value, bool) or value is None:
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"  # an environment variable is always text
    raise ValueError(f"must be true or false, not {value!r}")


class Section(BaseModel):
    """A config section (a TOML table)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _strict_flags(cls, value: Any, info: ValidationInfo) -> Any:
        return strict_flag(cls, value, info)


__all__ = ["Section", "strict_flag"]

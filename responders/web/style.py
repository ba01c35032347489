"""The style checker's findings for a draft as the console shows them: issues, length and limit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from monitor.config import Settings
from responders.lengths import PLATFORM_LIMITS, platform_length
from responders.style import StyleIssue, check_style


@dataclass(frozen=True, slots=True)
class Findings:
    issues: list[StyleIssue]
    length: int
    limit: int | None

    @property
    def over(self) -> bool:
        return self.limit is not None and self.length > self.limit

    def as_dicts(self) -> list[dict[str, str]]:
        return [{"code": issue.code, "message": issue.message} for issue in self.issues]


def findings_for(settings: Settings, *, text: str, language: str, platform: str, quote: str = "",
                 signatures: Sequence[str] = ()) -> Findings:
    """Check ``text`` against the care style guide, with every configured agent's signature (and
    ``signatures``: the approver's) accepted."""
    limit = PLATFORM_LIMITS.get(platform)
    signatures = [*signatures, *(agent.signature for agent in settings.agents)]
    checked = platform if limit is not None else "reddit"
    issues = check_style(text, language=language, platform=checked, signatures=signatures,
                         quoted=[quote] if quote else [])
    return Findings(issues=issues, length=platform_length(text, platform), limit=limit)

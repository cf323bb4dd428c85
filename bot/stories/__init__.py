"""Group reports of the same event from different feeds into stories (pure: no I/O)."""

from bot.stories.engine import DEFAULT_WINDOW, Clusterer, Params, Report, ReportId, Story
from bot.stories.text import Tokens, tokens

__all__ = [
    "DEFAULT_WINDOW",
    "Clusterer",
    "Params",
    "Report",
    "ReportId",
    "Story",
    "Tokens",
    "tokens",
]

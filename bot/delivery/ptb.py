"""The parts of python-telegram-bot's private modules this project uses, in one place.

PTB documents `BaseRequest` for custom transports, but the types of its timeout parameters
(`ODVInput`, `DefaultValue`) live in `telegram._utils`, which may change in any release.
Everything else imports them from here; tests/test_ptb_adapter.py checks that they and the
`BaseRequest` contract still look the way our transports expect.
"""

from __future__ import annotations

from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput

__all__ = ["DefaultValue", "ODVInput", "timeout_or"]


def timeout_or(value: ODVInput[float], default: float | None) -> float | None:
    """Return a timeout passed to `do_request`, or `default` when the caller left it unset."""
    return default if isinstance(value, DefaultValue) else value

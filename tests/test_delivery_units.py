"""Pure parts of delivery: error mapping and pacing."""

from __future__ import annotations

import httpx
import pytest
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.delivery.errors import Action, classify
from bot.delivery.pacing import GROUP_INTERVAL, PRIVATE_INTERVAL, Pacer


def _caused(err: Exception, cause: Exception) -> Exception:
    err.__cause__ = cause
    return err


@pytest.mark.parametrize(
    ("err", "action"),
    [
        (RetryAfter(7), Action.RETRY_AFTER),
        (Forbidden("Forbidden: bot was blocked by the user"), Action.DEACTIVATE),
        (BadRequest("Bad Request: chat not found"), Action.DEACTIVATE),
        (ChatMigrated(-100123), Action.MIGRATE),
        (BadRequest("Bad Request: can't parse entities: Unsupported start tag"), Action.PLAIN_TEXT),
        (BadRequest("Bad Request: message is too long"), Action.PLAIN_TEXT),
        (BadRequest("Bad Request: something else"), Action.FAIL),
        (NetworkError("Internal Server Error (500)"), Action.RETRY),
        (
            TimedOut("Pool timeout: All connections in the connection pool are occupied."),
            Action.RETRY,
        ),
        (_caused(NetworkError("httpx.ConnectError"), httpx.ConnectError("refused")), Action.RETRY),
        (_caused(TimedOut(), httpx.ConnectTimeout("slow")), Action.RETRY),
        (_caused(TimedOut(), httpx.ReadTimeout("slow")), Action.UNKNOWN),
        (_caused(NetworkError("httpx.ReadError"), httpx.ReadError("reset")), Action.UNKNOWN),
    ],
)
def test_classify(err: Exception, action: Action) -> None:
    assert classify(err).action is action  # type: ignore[arg-type]


def test_retry_after_value_and_migration_target() -> None:
    assert classify(RetryAfter(7)).retry_after == 7
    assert classify(ChatMigrated(-100123)).new_chat_id == -100123


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_pacer_global_rate_and_chats() -> None:
    clock = Clock()
    pacer = Pacer(rate=10, clock=clock)
    assert pacer.global_wait() == 0
    pacer.take(1)
    assert pacer.global_wait() == pytest.approx(0.1)
    assert pacer.chat_wait(1) == pytest.approx(PRIVATE_INTERVAL)
    pacer.take(-5)
    assert pacer.chat_wait(-5) == pytest.approx(GROUP_INTERVAL)
    assert set(pacer.busy_chats()) == {1, -5}
    clock.now += 1.5
    assert pacer.busy_chats() == [-5]
    # Idle time is not banked into a burst.
    clock.now += 60
    pacer.take(2)
    assert pacer.global_wait() == pytest.approx(0.1)


def test_pacer_holds_and_pauses() -> None:
    clock = Clock()
    pacer = Pacer(rate=25, clock=clock)
    pacer.hold_chat(7, 30)
    assert pacer.chat_wait(7) == pytest.approx(30)
    pacer.pause_all(5)
    assert pacer.global_wait() == pytest.approx(5)

"""Pure parts of delivery: error mapping, pacing, backoff, outcomes, rendering, HTTP parsing."""

from __future__ import annotations

import asyncio
import html
import math
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)

from bot.delivery import pacing
from bot.delivery.jobs import Job, SenderConfig
from bot.delivery.pacing import GROUP_INTERVAL, PRIVATE_INTERVAL, Pacer
from bot.delivery.policy import Action, Outcome, backoff_seconds, classify, result_for
from bot.delivery.render import (
    MAX_MESSAGE_CHARS,
    Alert,
    render_alert,
    render_broadcast_plain,
    render_plain,
    utf16_len,
)
from bot.delivery.transport import ResponseError, _read_response, proxy_configured


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
        (_caused(TimedOut(), httpx.PoolTimeout("busy")), Action.RETRY),
        (_caused(TimedOut(), httpx.ReadTimeout("slow")), Action.UNKNOWN),
        (_caused(NetworkError("httpx.ReadError"), httpx.ReadError("reset")), Action.UNKNOWN),
    ],
)
def test_classify(err: Exception, action: Action) -> None:
    assert classify(err).action is action  # type: ignore[arg-type]


def test_retry_after_value_and_migration_target() -> None:
    assert classify(RetryAfter(7)).retry_after == 7
    assert classify(ChatMigrated(-100123)).new_chat_id == -100123


def test_a_rejected_token_pauses_everything_instead_of_failing_messages() -> None:
    outcome = classify(InvalidToken("Unauthorized"))
    assert outcome.action is Action.RETRY_AFTER
    assert outcome.retry_after >= pacing.GLOBAL_RETRY_AFTER  # read as bot-wide


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_keeps_the_rate_without_banking_idle_time() -> None:
    clock = Clock()
    pacer = Pacer(rate=10, clock=clock)
    pacer.take(1)
    assert pacer.global_wait() == pytest.approx(0.1)
    clock.now += 0.1
    assert pacer.global_wait() == 0
    # A long idle spell earns at most one token (rate x 50 ms < 1): no burst afterwards.
    clock.now += 60
    pacer.take(2)
    assert pacer.global_wait() == pytest.approx(0.1)
    # At a high rate the bucket holds 50 ms of sending, absorbing a late wake-up.
    fast = Pacer(rate=1000, clock=clock)
    clock.now += 1
    sent = 0
    while fast.global_wait() == 0:
        fast.take(sent)
        sent += 1
    assert sent == 50


def test_chat_spacing_counts_from_the_answer() -> None:
    clock = Clock()
    pacer = Pacer(rate=100, clock=clock)
    pacer.take(1)
    pacer.take(-5)
    assert pacer.chat_wait(1) == math.inf  # in flight
    clock.now += 0.4  # Telegram answered after 0.4 s
    pacer.done(1)
    pacer.done(-5)
    assert pacer.chat_wait(1) == pytest.approx(PRIVATE_INTERVAL)
    assert pacer.chat_wait(-5) == pytest.approx(GROUP_INTERVAL)
    assert set(pacer.busy_chats()) == {1, -5}
    clock.now += 1.5
    assert pacer.busy_chats() == {-5: pytest.approx(1.5)}
    assert pacer.chat_wait(2) == 0


def test_one_chat_429_holds_only_that_chat() -> None:
    clock = Clock()
    pacer = Pacer(rate=25, clock=clock)
    assert pacer.too_many_requests(7, 30) is False
    assert pacer.chat_wait(7) == pytest.approx(30)
    assert pacer.global_wait() == 0
    assert pacer.factor() == 1.0


def test_several_chats_429ing_at_once_is_bot_wide_and_recovers_gradually() -> None:
    clock = Clock()
    pacer = Pacer(rate=20, clock=clock)
    assert not pacer.too_many_requests(1, 2)
    assert not pacer.too_many_requests(2, 2)
    assert pacer.too_many_requests(3, 2)  # third chat within the window
    assert pacer.global_wait() == pytest.approx(2)
    assert pacer.factor() == pytest.approx(0.5)
    assert pacer.rate() == pytest.approx(10)
    clock.now += 2 + 5  # the wait, then five seconds of recovery
    assert pacer.factor() == pytest.approx(0.5 + 5 * pacing.RECOVERY_PER_SECOND)
    clock.now += 60
    assert pacer.factor() == 1.0
    assert pacer.rate() == pytest.approx(20)


def test_a_very_long_retry_after_is_bot_wide() -> None:
    clock = Clock()
    pacer = Pacer(rate=20, clock=clock)
    assert pacer.too_many_requests(1, pacing.GLOBAL_RETRY_AFTER)
    assert pacer.global_wait() == pytest.approx(pacing.GLOBAL_RETRY_AFTER)


def test_chats_429ing_far_apart_stay_per_chat() -> None:
    clock = Clock()
    pacer = Pacer(rate=20, clock=clock)
    for chat in range(5):
        assert not pacer.too_many_requests(chat, 1)
        clock.now += pacing.GLOBAL_429_WINDOW
    assert pacer.factor() == 1.0


def test_paid_broadcasts_have_their_own_bucket_and_shares_split_rates() -> None:
    clock = Clock()
    pacer = Pacer(rate=25, paid_rate=1000, clock=clock)
    pacer.take(1, paid=False)
    assert pacer.global_wait(paid=False) > 0
    assert pacer.global_wait(paid=True) == 0
    pacer.set_shares(2)
    assert pacer.rate(paid=False) == pytest.approx(12.5)
    assert pacer.rate(paid=True) == pytest.approx(500)


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    for attempts, low, high in ((1, 1, 2), (2, 2, 4), (4, 8, 16)):
        values = [backoff_seconds(attempts, base=2) for _ in range(200)]
        assert all(low <= v <= high for v in values)
        assert max(values) - min(values) > (high - low) / 4  # jittered, not fixed
    assert backoff_seconds(40, base=2, cap=600) <= 600


JOB = Job(
    delivery_id=5, chat_id=77, thread_id=None, attempts=3, html="<b>x</b>", plain="x",
    is_broadcast=False,
)  # fmt: skip
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_result_for_each_outcome() -> None:
    cfg = SenderConfig(max_attempts=3, retry_base=1)
    assert result_for(JOB, None, now=NOW, config=cfg).state == "sent"
    wait = result_for(JOB, Outcome(Action.RETRY_AFTER, "429", retry_after=9), now=NOW, config=cfg)
    assert (wait.state, wait.count_attempt) == ("queued", False)
    assert wait.at == wait.hold_chat_until == NOW + timedelta(seconds=9)
    gone = result_for(JOB, Outcome(Action.DEACTIVATE, "blocked"), now=NOW, config=cfg)
    assert (gone.state, gone.deactivate) == ("failed", True)
    moved = result_for(JOB, Outcome(Action.MIGRATE, "m", new_chat_id=-100), now=NOW, config=cfg)
    assert moved.migrate_to == -100
    dead = result_for(JOB, Outcome(Action.RETRY, "Bad Gateway"), now=NOW, config=cfg)
    assert dead.state == "dead" and dead.error == "gave up after 3 attempts: Bad Gateway"
    cfg8 = SenderConfig(max_attempts=8, retry_base=1)
    again = result_for(JOB, Outcome(Action.RETRY, "Bad Gateway"), now=NOW, config=cfg8)
    assert again.state == "queued" and NOW + timedelta(seconds=2) <= again.at
    maybe = result_for(JOB, Outcome(Action.UNKNOWN, "read timeout"), now=NOW, config=cfg)
    assert maybe.state == "unknown"
    assert result_for(JOB, Outcome(Action.FAIL, "no"), now=NOW, config=cfg).state == "failed"


def test_in_flight_limit_follows_the_rates() -> None:
    assert SenderConfig(rate=25).in_flight_limit == 8
    assert SenderConfig(rate=500).in_flight_limit == 125
    assert SenderConfig(rate=25, allow_paid_broadcast=True, paid_rate=1000).in_flight_limit == 256
    assert SenderConfig(max_in_flight=3).in_flight_limit == 3


def test_texts_are_cut_in_utf16_units_as_telegram_counts() -> None:
    emoji = "🌊" * 3000  # 6000 UTF-16 units
    alert = Alert(title="Flood", summary=emoji, link=None, source="Wire", published=None)
    assert utf16_len(render_plain(alert)) <= MAX_MESSAGE_CHARS
    html_text = render_alert(alert)
    visible = html.unescape(re.sub(r"<[^>]+>", "", html_text))
    assert MAX_MESSAGE_CHARS - 10 <= utf16_len(visible) <= MAX_MESSAGE_CHARS
    assert utf16_len(render_broadcast_plain("🎉 " * 3000)) <= MAX_MESSAGE_CHARS


async def _parse(raw: bytes) -> tuple[int, bytes, bool]:
    reader = asyncio.StreamReader()
    reader.feed_data(raw)
    reader.feed_eof()
    return await _read_response(reader)


async def test_response_parsing() -> None:
    body = b'{"ok":true}'
    plain = b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n" + body
    assert await _parse(plain) == (200, body, True)
    chunked = (
        b"HTTP/1.1 429 Too Many Requests\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'5\r\n{"ok"\r\n6;ext=1\r\n:true}\r\n0\r\nX-Trailer: 1\r\n\r\n'
    )
    assert await _parse(chunked) == (429, body, True)
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 11\r\n\r\n" + body
    assert await _parse(closing) == (200, body, False)
    to_eof = b"HTTP/1.0 502 Bad Gateway\r\n\r\n" + body
    assert await _parse(to_eof) == (502, body, False)
    with pytest.raises(ResponseError):
        await _parse(b"SMTP ready\r\n\r\n")
    with pytest.raises(asyncio.IncompleteReadError):
        await _parse(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n" + body)


def test_proxy_detection(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "HTTP_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    assert not proxy_configured("https://api.telegram.org/bot")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert proxy_configured("https://api.telegram.org/bot")

"""The door's parts on their own: the reply lane, what follows a failed reply, the breaker,
per-chat bursts, Telegram's length counting, and that nothing outside the door sends."""

from __future__ import annotations

import ast
import asyncio
import math
from pathlib import Path
from typing import Any

import httpx
import pytest
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut

from bot.delivery.breaker import Breaker, State
from bot.delivery.door import GuardedRequest, is_door_method
from bot.delivery.pacing import Pacer
from bot.delivery.policy import Action, classify, is_link_failure
from bot.delivery.render import button_data, render_broadcast, utf16_cut, utf16_len
from bot.delivery.replies import Reply, ReplyLane, plain_fallback, reply_next
from bot.handlers.broadcast import preview_messages, too_long_text
from bot.handlers.topics import button_id
from bot.ops import metrics

ROOT = Path(__file__).resolve().parent.parent


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _caused(err: Exception, cause: Exception) -> Exception:
    err.__cause__ = cause
    return err


def reply(chat: int | None, text: str = "hi", **kw: Any) -> Reply:
    loop = asyncio.get_running_loop()
    return Reply(
        method="send_message",
        kwargs={"chat_id": chat, "text": text, "parse_mode": "HTML"},
        chat_id=chat,
        future=loop.create_future(),
        **kw,
    )


# -- the reply lane ------------------------------------------------------------------------


async def test_replies_leave_in_order_per_chat_within_the_chat_pacing() -> None:
    clock = Clock()
    pacer = Pacer(rate=30, chat_burst=3, clock=clock)
    lane = ReplyLane(clock=clock)
    for n in range(5):
        lane.put(reply(7, f"story {n}"))
    lane.put(reply(8, "other"))
    sent = []
    while len(lane):
        item, wait = lane.pick(pacer, budget_free=True)
        if item is None:
            assert 0 < wait <= 1.0
            clock.now += wait
            continue
        assert item.chat_id is not None
        pacer.take(item.chat_id)
        pacer.done(item.chat_id)
        sent.append((round(clock.now - 100.0, 3), item.chat_id, item.kwargs["text"]))
    mine = [(t, text) for t, chat, text in sent if chat == 7]
    assert [text for _, text in mine] == [f"story {n}" for n in range(5)]
    # A burst of three, then one a second.
    assert [t for t, _ in mine] == [0.0, 0.0, 0.0, 1.0, 2.0]
    assert (0.0, 8, "other") in sent


async def test_button_answers_go_without_budget_or_pacing() -> None:
    clock = Clock()
    pacer = Pacer(rate=1, clock=clock)
    lane = ReplyLane(clock=clock)
    answer = reply(None, kind="answer")
    lane.put(reply(5))
    lane.put(answer)
    item, _ = lane.pick(pacer, budget_free=False)
    assert item is answer
    item, wait = lane.pick(pacer, budget_free=False)
    assert item is None and wait <= 0


async def test_a_later_edit_of_the_same_message_replaces_the_queued_one() -> None:
    lane = ReplyLane()
    first = reply(3, "50 sent", key=("edit", 3, 10))
    second = reply(3, "90 sent", key=("edit", 3, 10))
    lane.put(first)
    lane.put(second)
    assert len(lane) == 1
    item, _ = lane.pick(Pacer(rate=10), budget_free=True)
    assert item is first and item.kwargs["text"] == "90 sent"
    item.finish(True)
    assert await second.future is True


async def test_replies_past_their_age_are_dropped_with_a_log_line_and_a_metric(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    lane = ReplyLane(max_age=120, clock=clock)
    old, young = reply(1, "old"), reply(2, "young")
    lane.put(old)
    clock.now += 100
    lane.put(young)
    before = metrics.REPLIES.labels(kind="reply", outcome="drop")._value.get()
    clock.now += 21
    lane.expire()
    assert len(lane) == 1
    assert await old.future is None
    assert not young.future.done()
    assert "reply to chat 1 dropped: not sent within 120s" in caplog.text
    assert metrics.REPLIES.labels(kind="reply", outcome="drop")._value.get() == before + 1


def test_reply_share_counts_the_last_second() -> None:
    clock = Clock()
    lane = ReplyLane(clock=clock)
    for _ in range(4):
        lane.note_sent()
    assert lane.share_used() == 4
    clock.now += 1.5
    assert lane.share_used() == 0


# -- what follows a reply's attempt --------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "idempotent", "verdict", "at"),
    [
        (RetryAfter(3), False, "again", 3.0),
        (_caused(NetworkError("x"), httpx.ConnectError("refused")), False, "again", 0.5),
        (_caused(NetworkError("x"), httpx.WriteError("reset")), False, "again", 0.5),
        (_caused(TimedOut("read timeout"), httpx.ReadTimeout("t")), False, "drop", 0.0),
        (_caused(TimedOut("read timeout"), httpx.ReadTimeout("t")), True, "again", 0.5),
        (BadRequest("Message is not modified: same content"), False, "sent", 0.0),
        (BadRequest("Chat not found"), False, "drop", 0.0),
    ],
)
async def test_reply_next(error: Exception, idempotent: bool, verdict: str, at: float) -> None:
    item = reply(4, idempotent=idempotent)
    assert isinstance(error, NetworkError | RetryAfter)
    step = reply_next(item, error, classify(error), now=10.0)
    assert step.verdict == verdict
    if verdict == "again":
        assert step.at == pytest.approx(10.0 + at)
    if verdict == "drop" and not idempotent and isinstance(error, TimedOut):
        assert "may have arrived" in step.reason


async def test_a_render_bug_is_resent_once_as_plain_text() -> None:
    item = reply(4, "<b>Tom &amp; Jerry</b> <i>unclosed")
    err = BadRequest("Can't parse entities: can't find end tag")
    step = reply_next(item, err, classify(err), now=0.0)
    assert step.verdict == "again"
    assert item.kwargs == {"chat_id": 4, "text": "Tom & Jerry unclosed", "parse_mode": None}
    assert reply_next(item, err, classify(err), now=0.0).verdict == "drop"
    assert plain_fallback("x" * 5000).endswith("…")


def test_link_failures_are_told_from_answers() -> None:
    refused = _caused(NetworkError("httpx.ConnectError"), httpx.ConnectError("refused"))
    assert is_link_failure(refused)
    assert is_link_failure(_caused(TimedOut("read timeout"), httpx.ReadTimeout("t")))
    assert is_link_failure(NetworkError("Bad Gateway"))
    assert not is_link_failure(TimedOut("Pool timeout: All connections are occupied"))
    assert not is_link_failure(RetryAfter(5))
    assert not is_link_failure(BadRequest("Chat not found"))
    # Reset while the request was still being written: it never arrived whole.
    write_reset = _caused(NetworkError("httpx.WriteError"), httpx.WriteError("reset"))
    assert classify(write_reset).action is Action.RETRY


# -- the breaker ---------------------------------------------------------------------------


def test_breaker_holds_on_the_first_failure_and_opens_after_a_few() -> None:
    clock = Clock()
    breaker = Breaker(threshold=3, clock=clock)
    breaker.failed("refused")
    assert breaker.state is State.SUSPECT and not breaker.allows
    # A healthy link answers the probe at once: back to sending.
    breaker.probe_answered()
    assert breaker.allows
    breaker.failed("refused")
    waits = [breaker.probe_failed("refused") for _ in range(8)]
    assert breaker.state is State.OPEN and breaker.outages == 1
    assert waits[0] <= 0.5 and waits[-1] <= 30 and waits[-1] > waits[1]
    clock.now += 40
    breaker.probe_answered()
    assert breaker.state is State.CLOSED and breaker.cleared_at == clock.now


def test_breaker_hold_follows_the_usual_answer_time() -> None:
    breaker = Breaker()
    for _ in range(100):
        breaker.answered(0.004)
    assert breaker.hold_after() == pytest.approx(0.01)
    assert breaker.stall_after() == 1.0
    for _ in range(100):
        breaker.answered(0.3)
    assert breaker.hold_after() == pytest.approx(0.3, rel=0.05)
    assert breaker.stall_after() == pytest.approx(6.0, rel=0.05)


# -- pacing --------------------------------------------------------------------------------


def test_chat_burst_then_one_a_second_and_a_429_costs_the_burst() -> None:
    clock = Clock()
    pacer = Pacer(rate=100, chat_burst=3, clock=clock)
    for _ in range(3):
        assert pacer.chat_wait(1) == 0
        pacer.take(1)
        assert pacer.chat_wait(1) == math.inf
        pacer.done(1)
    assert pacer.chat_wait(1) == pytest.approx(1.0)
    assert set(pacer.busy_chats()) == {1}
    clock.now += 5
    assert pacer.chat_wait(1) == 0
    pacer.too_many_requests(1, 4)
    assert pacer.chat_wait(1) == pytest.approx(4)


# -- lengths as Telegram counts them -------------------------------------------------------


def test_lengths_count_utf16_units() -> None:
    emoji = "📣" * 2100
    assert len(emoji) == 2100 and utf16_len(emoji) == 4200
    cut = utf16_cut(emoji, 200)
    assert utf16_len(cut) <= 200 and cut.endswith("…")
    assert utf16_cut("short", 200) == "short"
    assert "4,200 characters" in too_long_text(4200) and "4,096" in too_long_text(4200)
    assert button_data("tc:", 12) == "tc:12"
    with pytest.raises(ValueError):
        button_data("x" * 60, 123456)


def test_preview_is_exactly_what_chats_receive() -> None:
    text = "Road  closed:   use   the <north> gate & wait"
    (one,) = preview_messages(text, 3)
    assert one.endswith("\n\n" + render_broadcast(text))
    assert "Road  closed:   use" in one  # spacing kept, as it will be delivered
    long = "word " * 815  # fits alone, not with the header
    body, head = preview_messages(long, 3)
    assert body == render_broadcast(long)
    assert "Broadcast preview" in head


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("tc:5", 5),
        ("tc:0", None),
        ("tc:99999999999999999999999999", None),
        ("tc:9223372036854775807", 9223372036854775807),
        ("tc:9223372036854775808", None),
        ("tc:٣", None),
        ("tc:", None),
    ],
)
def test_button_ids_out_of_range_are_refused(data: str, expected: int | None) -> None:
    assert button_id(data, "tc:") == expected


# -- nothing sends around the door ---------------------------------------------------------

SENDING_CALLS = {
    "send_message", "send_document", "send_photo", "reply_text", "reply_html",
    "reply_markdown", "reply_document", "reply_photo", "edit_message_text", "edit_text",
    "edit_reply_markup", "edit_message_reply_markup", "answer_callback_query",
    "delete_message", "copy_message", "forward_message", "set_message_reaction",
}  # fmt: skip


def test_only_the_door_calls_sending_methods() -> None:
    offenders = []
    for path in sorted((ROOT / "bot").rglob("*.py")):
        if path.parent.name == "delivery":
            continue  # the door itself
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            name = node.func.attr
            target = ast.unparse(node.func.value)
            if "door" in target:
                continue  # handing it to the door is the point
            on_query = name == "answer" and ("query" in target or "callback" in target)
            if name in SENDING_CALLS or on_query:
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}: {target}.{name}")
    assert offenders == []


@pytest.mark.parametrize(
    "method",
    ["sendMessage", "sendDocument", "editMessageText", "editMessageReplyMarkup",
     "answerCallbackQuery", "deleteMessage", "copyMessage", "forwardMessage"],
)  # fmt: skip
def test_the_application_bot_refuses_sending_methods(method: str) -> None:
    assert is_door_method(method)


@pytest.mark.parametrize(
    "method", ["getMe", "getUpdates", "setMyCommands", "getChatMember", "getFile", "setWebhook"]
)
def test_the_application_bot_may_read(method: str) -> None:
    assert not is_door_method(method)


async def test_guarded_request_raises_before_anything_is_sent() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, json={"ok": True, "result": True})

    from telegram.request import HTTPXRequest

    inner = HTTPXRequest()
    inner._client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    guarded = GuardedRequest(inner)
    with pytest.raises(Exception, match="must go through the door"):
        await guarded.do_request("http://api.local/bot1:x/sendMessage", "POST")
    await guarded.do_request("http://api.local/bot1:x/getMe", "POST")
    assert seen == ["/bot1:x/getMe"]
    await inner._client.aclose()

"""Prove the test doubles behave like the services they stand in for."""

from __future__ import annotations

import datetime as dtm
import gzip
import html
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter
from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes

from tests.support import (
    EntityParseError,
    FakeTelegram,
    FeedRequest,
    FeedResponse,
    FeedServer,
    atom,
    parse_html,
    rss,
)
from tests.support.imports import imported_modules

PRIVATE = 4242
GROUP = -1001234567890


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


@pytest.fixture
def api(fake: FakeTelegram) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.api_url + "/", timeout=5) as client:
        yield client


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


def call(client: httpx.Client, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
    response = client.post(method, json=params)
    body: dict[str, Any] = response.json()
    return response.status_code, body


def seconds(value: int | dtm.timedelta) -> float:
    return value.total_seconds() if isinstance(value, dtm.timedelta) else float(value)


def test_the_emulator_core_has_no_server_and_no_test_framework() -> None:
    # bot/emulator ships in the package (`newsbot shell` runs it): the network and the test
    # conveniences stay in tests/support.
    core = Path(__file__).resolve().parents[1] / "bot" / "emulator"
    banned = ("http.server", "socketserver", "socket", "select", "pytest", "hypothesis", "unittest")
    found = [
        f"{path.name}: {name}"
        for path in sorted(core.glob("*.py"))
        for name in imported_modules(path)
        if name in banned or name.split(".")[0] in banned
    ]
    assert found == []


# -- HTML parse mode -----------------------------------------------------------------------


def test_parse_html_accepts_the_supported_subset() -> None:
    text = (
        '<b>Storm</b> &amp; <i>flood</i> <a href="https://news.example.org/a?x=1&amp;y=2">'
        'warning</a> <span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler> '
        '<u>u</u><s>s</s><code>c</code><pre><code class="language-python">p</code></pre>'
        "<blockquote expandable>q</blockquote> &lt;tag&gt; &quot;x&quot; &#8212; &#x1F600;"
    )
    parsed = parse_html(text)
    assert parsed.plain == 'Storm & flood warning st uscpq <tag> "x" — 😀'
    assert parsed.links == ("https://news.example.org/a?x=1&y=2",)
    kinds = {entity["type"] for entity in parsed.entities}
    assert kinds >= {"bold", "italic", "text_link", "spoiler", "underline", "code", "pre"}
    assert "expandable_blockquote" in kinds
    link = next(e for e in parsed.entities if e["type"] == "text_link")
    assert (link["offset"], link["length"]) == (14, 7)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Hello world <div>x</div>", 'Unsupported start tag "div" at byte offset 12'),
        ("Привет <div>", 'Unsupported start tag "div" at byte offset 13'),
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("text</b>", "Unexpected end tag at byte offset 4"),
        ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
        ("Q&A", 'Character "&" at byte offset 1 must be escaped as "&amp;"'),
        ("Tom & Jerry", 'Character "&" at byte offset 4 must be escaped as "&amp;"'),
        ("a&nbsp;b", 'Unsupported HTML entity "&nbsp;" at byte offset 1'),
        ("2 > 1", 'Character ">" at byte offset 2 must be escaped as "&gt;"'),
        ("<a>x</a>", 'Tag "a" must have attribute "href"'),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler"'),
        ('<b class="x', "Unclosed start tag at byte offset 0"),
    ],
)
def test_parse_html_rejects_like_telegram(text: str, reason: str) -> None:
    with pytest.raises(EntityParseError) as caught:
        parse_html(text)
    assert caught.value.reason == reason


@given(st.text(max_size=200))
def test_escaped_text_round_trips(text: str) -> None:
    assert parse_html(html.escape(text)).plain == text


def test_send_message_validates_html_over_http(fake: FakeTelegram, api: httpx.Client) -> None:
    status, body = call(
        api, "sendMessage", chat_id=PRIVATE, text="Hello world <div>x</div>", parse_mode="HTML"
    )
    assert status == 400
    assert body == {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: can't parse entities: "
        'Unsupported start tag "div" at byte offset 12',
    }
    status, body = call(
        api,
        "sendMessage",
        chat_id=PRIVATE,
        text='<b>Rates rise</b> &amp; <a href="https://news.example.org/r">more</a>',
        parse_mode="HTML",
    )
    assert status == 200
    assert body["result"]["text"] == "Rates rise & more"
    assert body["result"]["from"]["username"] == fake.bot_username
    [sent] = fake.messages(PRIVATE)
    assert sent.text.startswith("<b>Rates rise</b>")
    assert sent.plain == "Rates rise & more"
    assert sent.links == ["https://news.example.org/r"]


def test_length_limit_counts_visible_utf16_units(api: httpx.Client) -> None:
    def send(text: str) -> tuple[int, dict[str, Any]]:
        return call(api, "sendMessage", chat_id=PRIVATE, text=text, parse_mode="HTML")

    assert send("<b>" + "a" * 4096 + "</b>")[0] == 200
    assert send("a" * 4097)[1]["description"] == "Bad Request: message is too long"
    assert send("😀" * 2048)[0] == 200
    assert send("😀" * 2048 + "a")[1]["description"] == "Bad Request: message is too long"
    assert send("&amp;" * 4096)[0] == 200
    assert send("<b></b>")[1]["description"] == "Bad Request: message text is empty"
    assert call(api, "sendMessage", chat_id=PRIVATE)[1]["description"] == (
        "Bad Request: message text is empty"
    )


def test_auth_unknown_method_and_missing_params(fake: FakeTelegram, api: httpx.Client) -> None:
    wrong = httpx.post(f"{fake.base_url}123456789:wrong/getMe", timeout=5)
    assert (wrong.status_code, wrong.json()["description"]) == (401, "Unauthorized")
    assert call(api, "sendCarrierPigeon") == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found"},
    )
    assert call(api, "sendMessage", text="hi")[1]["description"] == "Bad Request: chat_id is empty"
    assert call(api, "getme")[1]["result"]["id"] == fake.bot_id


def test_buttons_and_edits(fake: FakeTelegram, api: httpx.Client) -> None:
    long_data = {"inline_keyboard": [[{"text": "More", "callback_data": "x" * 65}]]}
    status, body = call(api, "sendMessage", chat_id=PRIVATE, text="hi", reply_markup=long_data)
    assert (status, body["description"]) == (400, "Bad Request: BUTTON_DATA_INVALID")

    keyboard = {"inline_keyboard": [[{"text": "Stop", "callback_data": "unsub:1"}]]}
    sent = call(api, "sendMessage", chat_id=PRIVATE, text="Alert", reply_markup=keyboard)[1]
    message_id = sent["result"]["message_id"]
    assert sent["result"]["reply_markup"] == keyboard
    edit = {"chat_id": PRIVATE, "message_id": message_id, "text": "Alert", "reply_markup": keyboard}
    status, body = call(api, "editMessageText", **edit)
    assert status == 400
    assert body["description"].startswith("Bad Request: message is not modified")
    assert call(api, "editMessageText", **{**edit, "text": "Alert (updated)"})[0] == 200
    [message] = fake.messages(PRIVATE)
    assert message.plain == "Alert (updated)"
    assert [e.plain for e in message.edits] == ["Alert (updated)"]
    assert message.buttons == [[{"text": "Stop", "callback_data": "unsub:1"}]]
    target = {"chat_id": PRIVATE, "message_id": message_id}
    assert call(api, "editMessageReplyMarkup", **target)[0] == 200
    assert fake.messages(PRIVATE)[0].buttons == []
    repeat = call(api, "editMessageReplyMarkup", **target)[1]
    assert repeat["description"].startswith("Bad Request: message is not modified")
    missing = call(api, "editMessageText", chat_id=PRIVATE, message_id=999, text="x")[1]
    assert missing["description"] == "Bad Request: message to edit not found"


def test_callback_queries_and_answers(fake: FakeTelegram, api: httpx.Client) -> None:
    keyboard = {"inline_keyboard": [[{"text": "Stop", "callback_data": "unsub:1"}]]}
    sent = call(api, "sendMessage", chat_id=PRIVATE, text="Alert", reply_markup=keyboard)[1]
    message_id = sent["result"]["message_id"]
    query_id = fake.send_callback_update(
        chat_id=PRIVATE, user_id=PRIVATE, message_id=message_id, data="unsub:1"
    )
    [update] = call(api, "getUpdates")[1]["result"]
    query = update["callback_query"]
    assert (query["id"], query["data"]) == (query_id, "unsub:1")
    assert query["message"]["reply_markup"] == keyboard
    assert call(api, "answerCallbackQuery", callback_query_id=query_id, text="Done")[0] == 200
    assert [(a.callback_query_id, a.text) for a in fake.callback_answers()] == [(query_id, "Done")]
    again = call(api, "answerCallbackQuery", callback_query_id=query_id)[1]
    assert "query ID is invalid" in again["description"]


def test_kicked_bot_gets_forbidden_and_allowed_updates_filter(
    fake: FakeTelegram, api: httpx.Client
) -> None:
    fake.send_message_update(chat_id=GROUP, text="hello", chat_type="supergroup", chat_title="Desk")
    kicked = fake.send_my_chat_member_update(chat_id=GROUP, new_status="kicked")
    updates = call(api, "getUpdates", allowed_updates=["my_chat_member"])[1]["result"]
    assert [u["update_id"] for u in updates] == [kicked]
    assert updates[0]["my_chat_member"]["new_chat_member"]["status"] == "kicked"
    assert call(api, "sendMessage", chat_id=GROUP, text="hi")[1]["description"] == (
        "Forbidden: bot was kicked from the supergroup chat"
    )
    fake.send_my_chat_member_update(chat_id=GROUP, old_status="left", new_status="member")
    assert call(api, "sendMessage", chat_id=GROUP, text="hi again")[0] == 200


def test_wait_for_message_explains_a_timeout(fake: FakeTelegram, api: httpx.Client) -> None:
    call(api, "sendMessage", chat_id=PRIVATE, text="Morning briefing")
    assert fake.wait_for_message(PRIVATE, "briefing", timeout=1).message_id == 1
    mark = fake.mark()
    with pytest.raises(AssertionError) as caught:
        fake.wait_for_message(PRIVATE, "briefing", timeout=0.1, since=mark)
    assert "containing 'briefing'" in str(caught.value)
    assert "'Morning briefing'" in str(caught.value)


# -- fault injection -----------------------------------------------------------------------


def test_blocked_not_found_and_migrated_chats(fake: FakeTelegram, api: httpx.Client) -> None:
    fake.block(PRIVATE)
    assert call(api, "sendMessage", chat_id=PRIVATE, text="hi") == (
        403,
        {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"},
    )
    fake.unblock(PRIVATE)
    assert call(api, "sendMessage", chat_id=PRIVATE, text="hi")[0] == 200

    fake.chat_not_found(777)
    assert call(api, "sendMessage", chat_id=777, text="hi")[1]["description"] == (
        "Bad Request: chat not found"
    )

    fake.migrate(-555, GROUP)
    status, body = call(api, "sendMessage", chat_id=-555, text="hi")
    assert status == 400
    assert body["parameters"] == {"migrate_to_chat_id": GROUP}
    assert body["description"] == "Bad Request: group chat was upgraded to a supergroup chat"
    assert call(api, "sendMessage", chat_id=GROUP, text="hi")[0] == 200


def test_injected_rate_limit_and_server_errors(fake: FakeTelegram, api: httpx.Client) -> None:
    fake.rate_limit(PRIVATE, retry_after=7, times=2)
    for _ in range(2):
        status, body = call(api, "sendMessage", chat_id=PRIVATE, text="hi")
        assert (status, body["parameters"]) == (429, {"retry_after": 7})
        assert body["description"] == "Too Many Requests: retry after 7"
    assert call(api, "sendMessage", chat_id=PRIVATE, text="hi")[0] == 200
    fake.rate_limit(retry_after=2)
    assert call(api, "sendMessage", chat_id=GROUP, text="hi")[0] == 429
    assert fake.too_many_requests == 3

    fake.fail_next("sendMessage", 502)
    assert call(api, "sendMessage", chat_id=PRIVATE, text="hi")[0] == 502
    assert call(api, "sendMessage", chat_id=PRIVATE, text="hi")[0] == 200
    assert [r.status for r in fake.requests("sendMessage")][-2:] == [502, 200]


def test_delay_provokes_read_timeout_and_stop_interrupts_it() -> None:
    server = FakeTelegram().start()
    server.set_delay("getMe", 30)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{server.api_url}/getMe", timeout=0.2)
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2


def test_enforced_flood_limits(fake: FakeTelegram, api: httpx.Client) -> None:
    fake.enforce_limits(per_chat_per_second=1, per_group_per_minute=3, burst=1)
    assert call(api, "sendMessage", chat_id=PRIVATE, text="one")[0] == 200
    status, body = call(api, "sendMessage", chat_id=PRIVATE, text="two")
    assert (status, body["parameters"]["retry_after"]) == (429, 1)
    assert call(api, "sendMessage", chat_id=PRIVATE + 1, text="other chat")[0] == 200

    fake.enforce_limits(per_chat_per_second=100, per_group_per_minute=3, burst=100)
    results = [call(api, "sendMessage", chat_id=GROUP, text=f"n{i}") for i in range(4)]
    assert [status for status, _ in results] == [200, 200, 200, 429]
    assert 15 <= results[-1][1]["parameters"]["retry_after"] <= 20
    assert fake.too_many_requests == 2


# -- long polling --------------------------------------------------------------------------


def poll_in_thread(fake: FakeTelegram, **params: Any) -> tuple[threading.Thread, list[Any]]:
    result: list[Any] = []

    def run() -> None:
        with httpx.Client(timeout=10) as client:
            result.append(client.post(f"{fake.api_url}/getUpdates", json=params))

    thread = threading.Thread(target=run)
    thread.start()
    fake.wait_for(lambda: fake.is_polling, 5, what="a long poll")
    return thread, result


def test_long_poll_wakes_on_new_update(fake: FakeTelegram) -> None:
    thread, result = poll_in_thread(fake, timeout=5)
    queued_at = time.monotonic()
    update_id = fake.send_message_update(chat_id=PRIVATE, text="/start@newsbot_test_bot now")
    thread.join(timeout=5)
    assert time.monotonic() - queued_at < 1
    [update] = result[0].json()["result"]
    assert update["update_id"] == update_id
    assert update["message"]["entities"] == [{"type": "bot_command", "offset": 0, "length": 23}]
    assert update["message"]["from"]["id"] == PRIVATE


def test_second_poller_gets_conflict(fake: FakeTelegram, api: httpx.Client) -> None:
    thread, result = poll_in_thread(fake, timeout=5)
    status, body = call(api, "getUpdates", timeout=0)
    assert status == 409
    assert body["description"] == (
        "Conflict: terminated by other getUpdates request; "
        "make sure that only one bot instance is running"
    )
    fake.send_message_update(chat_id=PRIVATE, text="hello")
    thread.join(timeout=5)
    assert result[0].status_code == 200


def test_abandoned_poll_does_not_block_the_next_one(fake: FakeTelegram, api: httpx.Client) -> None:
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{fake.api_url}/getUpdates", json={"timeout": 5}, timeout=0.3)
    assert call(api, "getUpdates", timeout=0) == (200, {"ok": True, "result": []})


def test_offset_confirms_updates(fake: FakeTelegram, api: httpx.Client) -> None:
    first = fake.send_message_update(chat_id=GROUP, text="hi", chat_type="supergroup")
    second = fake.send_message_update(chat_id=-100777, text="news", chat_type="channel")
    updates = call(api, "getUpdates")[1]["result"]
    assert [u["update_id"] for u in updates] == [first, second]
    assert updates[0]["message"]["from"]["is_bot"] is False
    post = updates[1]["channel_post"]
    assert "from" not in post and post["sender_chat"]["type"] == "channel"
    assert [u["update_id"] for u in call(api, "getUpdates", offset=second)[1]["result"]] == [second]
    assert call(api, "getUpdates", offset=second + 1)[1]["result"] == []
    assert fake.pending_updates() == []


# -- the real python-telegram-bot client ---------------------------------------------------


# PTB itself warns about RetryAfter.retry_after becoming a timedelta in a later version.
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_ptb_bot_against_the_fake(fake: FakeTelegram) -> None:
    bot = Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url)
    async with bot:
        me = await bot.get_me()
        assert (me.id, me.username) == (fake.bot_id, "newsbot_test_bot")

        keyboard = InlineKeyboardMarkup(
            [[InlineKeyboardButton("Unsubscribe", callback_data="u:1")]]
        )
        message = await bot.send_message(
            PRIVATE,
            '<b>Harbour reopens</b> &amp; <a href="https://news.example.org/h">ferries</a>',
            parse_mode="HTML",
            reply_markup=keyboard,
        )
        assert message.text == "Harbour reopens & ferries"
        assert message.text_html.startswith("<b>Harbour reopens</b>")
        assert fake.messages(PRIVATE)[0].links == ["https://news.example.org/h"]

        with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
            await bot.send_message(PRIVATE, "Q&A <div>", parse_mode="HTML")

        edited = await bot.edit_message_text(
            "<i>Harbour reopened</i>",
            chat_id=PRIVATE,
            message_id=message.message_id,
            parse_mode="HTML",
        )
        assert not isinstance(edited, bool) and edited.text == "Harbour reopened"
        with pytest.raises(BadRequest, match="not modified"):
            await bot.edit_message_text(
                "<i>Harbour reopened</i>",
                chat_id=PRIVATE,
                message_id=message.message_id,
                parse_mode="HTML",
            )
        assert await bot.delete_message(PRIVATE, message.message_id)

        fake.set_member_status(GROUP, 77, "administrator")
        fake.set_member_status(GROUP, 78, "creator")
        chat = await bot.get_chat(GROUP)
        assert (chat.id, chat.type) == (GROUP, "supergroup")
        assert (await bot.get_chat_member(GROUP, 77)).status == "administrator"
        assert (await bot.get_chat_member(GROUP, 79)).status == "member"
        admins = await bot.get_chat_administrators(GROUP)
        assert sorted(a.user.id for a in admins) == [77, 78]

        await bot.set_my_commands([("subscribe", "Follow a topic")])
        assert [c.command for c in await bot.get_my_commands()] == ["subscribe"]
        assert fake.commands() == [{"command": "subscribe", "description": "Follow a topic"}]

        await bot.send_document(GROUP, document=b"digest body", filename="digest.txt")
        assert [(d.filename, d.content) for d in fake.documents()] == [
            ("digest.txt", b"digest body")
        ]
        fake.send_document_update(chat_id=PRIVATE, content=b"feeds: []", file_name="opml.yaml")
        sent = fake.messages(PRIVATE)[0]
        fake.send_callback_update(
            chat_id=PRIVATE, user_id=PRIVATE, message_id=sent.message_id, data="u:1"
        )
        fake.send_my_chat_member_update(chat_id=-100999, new_status="kicked", chat_type="channel")
        document_update, callback_update, member_update = await bot.get_updates()
        assert document_update.message is not None
        assert document_update.message.document is not None
        file = await bot.get_file(document_update.message.document.file_id)
        assert bytes(await file.download_as_bytearray()) == b"feeds: []"
        assert callback_update.callback_query is not None
        assert callback_update.callback_query.data == "u:1"
        assert member_update.my_chat_member is not None
        assert member_update.my_chat_member.new_chat_member.status == "kicked"

        fake.rate_limit(PRIVATE, retry_after=3)
        with pytest.raises(RetryAfter) as throttled:
            await bot.send_message(PRIVATE, "again")
        assert seconds(throttled.value.retry_after) == 3

        fake.block(PRIVATE)
        with pytest.raises(Forbidden, match="blocked by the user"):
            await bot.send_message(PRIVATE, "again")

        fake.migrate(-555, GROUP)
        with pytest.raises(ChatMigrated) as migrated:
            await bot.send_message(-555, "to the group")
        assert migrated.value.new_chat_id == GROUP


async def test_ptb_application_polls_and_answers(fake: FakeTelegram) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Greet the user."""
        assert update.effective_message is not None
        await update.effective_message.reply_html("Welcome to <b>newsbot</b> &amp; friends")

    app = (
        ApplicationBuilder()
        .token(fake.token)
        .base_url(fake.base_url)
        .base_file_url(fake.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0, timeout=dtm.timedelta(seconds=5))
        fake.send_message_update(chat_id=PRIVATE, text="/start")
        message = await fake.await_message(PRIVATE, "Welcome", timeout=5)
        assert message.plain == "Welcome to newsbot & friends"
        await app.updater.stop()
        await app.stop()
    assert 409 not in {r.status for r in fake.requests("getUpdates")}
    assert fake.pending_updates() == []


# -- feed server ---------------------------------------------------------------------------

PUBLISHED = dtm.datetime(2024, 5, 6, 7, 30, tzinfo=dtm.UTC)
ITEMS = [
    {
        "title": "Council approves <new> bridge & tunnel plan",
        "link": "https://news.example.org/bridge",
        "guid": "bridge-2024",
        "description": "The vote <b>passed</b> 7 to 2.",
        "content_encoded": "<p>The vote passed 7 to 2 after a long debate.</p>",
        "categories": ["Local", "Transport & roads"],
        "pub_date": PUBLISHED,
    }
]


def test_conditional_get(feeds: FeedServer) -> None:
    feeds.set("/feed.xml", rss("City News", ITEMS), etag="v1", last_modified=PUBLISHED)
    url = feeds.url("/feed.xml")
    first = httpx.get(url)
    assert first.status_code == 200 and first.headers["etag"] == '"v1"'
    assert httpx.get(url, headers={"If-None-Match": '"v1"'}).status_code == 304
    assert httpx.get(url, headers={"If-None-Match": '"v0"'}).status_code == 200
    modified = first.headers["last-modified"]
    assert httpx.get(url, headers={"If-Modified-Since": modified}).status_code == 304
    older = "Sun, 05 May 2024 00:00:00 GMT"
    assert httpx.get(url, headers={"If-Modified-Since": older}).status_code == 200
    assert feeds.hits("/feed.xml") == 5
    assert feeds.requests("/feed.xml")[1].headers["if-none-match"] == '"v1"'


def test_redirect_and_custom_handler(feeds: FeedServer) -> None:
    feeds.set("/feed.xml", rss("City News", ITEMS))
    feeds.redirect("/old.rss", "/feed.xml", status=301)
    response = httpx.get(feeds.url("/old.rss"), follow_redirects=True)
    assert response.status_code == 200
    assert [r.status_code for r in response.history] == [301]
    assert feeds.hits("/old.rss") == feeds.hits("/feed.xml") == 1

    def busy(request: FeedRequest) -> FeedResponse:
        return FeedResponse(status=503, body="busy", headers={"Retry-After": "120"})

    feeds.set_handler("/busy", busy)
    answer = httpx.get(feeds.url("/busy"))
    assert (answer.status_code, answer.headers["retry-after"]) == (503, "120")
    assert httpx.get(feeds.url("/missing")).status_code == 404


def test_delay_and_shutdown(feeds: FeedServer) -> None:
    feeds.set("/slow.xml", "<rss/>")
    feeds.delay("/slow.xml", 30)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(feeds.url("/slow.xml"), timeout=0.2)
    started = time.monotonic()
    feeds.stop()
    assert time.monotonic() - started < 2


def test_gzip_bodies(feeds: FeedServer) -> None:
    bomb = gzip.compress(b"\0" * 2_000_000)
    feeds.set("/bomb.xml", bomb, content_encoding="gzip")
    with httpx.stream("GET", feeds.url("/bomb.xml")) as response:
        assert response.headers["content-encoding"] == "gzip"
        assert b"".join(response.iter_raw()) == bomb
    feeds.set("/zipped.xml", rss("City News", ITEMS), gzip_body=True)
    assert "bridge &amp; tunnel" in httpx.get(feeds.url("/zipped.xml")).text


def test_feed_builders_escape_and_parse() -> None:
    parsed = feedparser.parse(rss("City & County News", ITEMS, ttl=15))
    assert not parsed.bozo
    assert parsed.feed.title == "City & County News"
    assert parsed.feed.ttl == "15"
    [entry] = parsed.entries
    assert entry.title == "Council approves <new> bridge & tunnel plan"
    assert entry.id == "bridge-2024"
    assert [t.term for t in entry.tags] == ["Local", "Transport & roads"]
    assert entry.content[0].value.startswith("<p>The vote passed")
    assert tuple(entry.published_parsed[:6]) == (2024, 5, 6, 7, 30, 0)

    parsed_atom = feedparser.parse(atom("City <News>", ITEMS))
    assert not parsed_atom.bozo
    [atom_entry] = parsed_atom.entries
    assert parsed_atom.feed.title == "City <News>"
    assert atom_entry.title == "Council approves <new> bridge & tunnel plan"
    assert atom_entry.link == "https://news.example.org/bridge"
    assert atom_entry.id == "bridge-2024"

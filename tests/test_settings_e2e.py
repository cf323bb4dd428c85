"""End to end: /settings buttons, /digest, /quiet, /timezone and /previews.

The real Application answers through the door to the stand-in Bot API (Telegram's limits
on); digests are released by calling the digest job's service with the time they are due.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.support.chat_bot import ChatBot, chat_bot
from tests.support.digests import held, release_due
from tests.support.live_bot import story

ALICE = 111
BOB = 222
CAROL = 333
DAVE = 444
GROUP = -100_601
ADMIN = 42
MEMBER = 43
HISTORY = [story(1, "Old harbour crane is torn down", minutes_ago=30)]


def prefs_row(bot: ChatBot, chat: int) -> tuple[object, ...] | None:
    rows = bot.db(
        "select mode, digest_times, quiet_start, quiet_end, quiet_mode, timezone, link_previews"
        " from chat_preference where chat_id = :chat",
        chat=chat,
    )
    return rows[0] if rows else None


def labels(buttons: list[list[dict[str, str]]]) -> list[str]:
    return [b["text"] for row in buttons for b in row]


async def test_settings_buttons_edit_the_same_message(tmp_path: Path) -> None:
    async with chat_bot(tmp_path, items=HISTORY) as bot:
        menu = await bot.ask(ALICE, "/settings", "Settings for this chat")
        assert "News: instant alerts" in menu.plain and "Time zone: UTC" in menu.plain
        assert "✅ Instant alerts" in labels(menu.buttons)
        for row in menu.buttons:
            for button in row:
                assert len(button["callback_data"].encode()) <= 64

        answer, edit = await bot.tap(menu, "Digest", user_id=ALICE)
        assert answer.text == "✅ Saved."
        assert edit is not None and "a digest at 08:00" in edit.plain
        _, edit = await bot.tap(bot.current(menu), "18:00", user_id=ALICE)
        assert edit is not None and "a digest at 08:00, 18:00" in edit.plain
        _, edit = await bot.tap(bot.current(menu), "Berlin", user_id=ALICE)
        assert edit is not None and "Time zone: Europe/Berlin" in edit.plain
        _, edit = await bot.tap(bot.current(menu), "22:00–07:00", user_id=ALICE)
        assert edit is not None and "22:00–07:00, alerts held" in edit.plain
        _, edit = await bot.tap(bot.current(menu), "send silently", user_id=ALICE)
        assert edit is not None and "alerts sent silently" in edit.plain
        _, edit = await bot.tap(bot.current(menu), "Link previews", user_id=ALICE)
        assert edit is not None and "Link previews: off" in edit.plain
        now = labels(bot.current(menu).buttons)
        assert {"✅ Digest", "✅ 08:00", "✅ 18:00", "✅ Berlin", "✅ 22:00–07:00"} <= set(now)
        assert prefs_row(bot, ALICE) == (
            "digest",
            "08:00,18:00",
            "22:00",
            "07:00",
            "silent",
            "Europe/Berlin",
            False,
        )
        # Taking away the last digest time is refused; the message stays as it is.
        await bot.tap(bot.current(menu), "✅ 08:00", user_id=ALICE)
        answer, _ = await bot.tap(bot.current(menu), "✅ 18:00", user_id=ALICE, edited=False)
        assert answer.text is not None and "at least one time" in answer.text
        assert prefs_row(bot, ALICE) is not None
        assert len(bot.telegram.messages(ALICE)) == 1  # only edits, no new messages

        # In groups only administrators change the settings.
        bot.telegram.set_member_status(GROUP, ADMIN, "administrator")
        bot.telegram.set_member_status(GROUP, MEMBER, "member")
        group = {"chat_type": "supergroup"}
        menu = await bot.ask(GROUP, "/settings", "Settings", user_id=MEMBER, **group)
        answer, _ = await bot.tap(menu, "Digest", user_id=MEMBER, edited=False)
        assert answer.text is not None and "administrators" in answer.text
        await bot.ask(GROUP, "/digest 09:00", "administrators", user_id=MEMBER, **group)
        assert prefs_row(bot, GROUP) is None
        _, edit = await bot.tap(menu, "Digest", user_id=ADMIN)
        assert edit is not None and "a digest at 08:00" in edit.plain


async def test_typed_commands_and_their_refusals(tmp_path: Path) -> None:
    async with chat_bot(tmp_path, items=HISTORY) as bot:
        reply = await bot.ask(BOB, "/timezone New York", "Saved")
        assert "time zone America/New_York" in reply.plain
        await bot.ask(BOB, "/digest 7:30 19:00", "a digest at 07:30, 19:00")
        await bot.ask(BOB, "/quiet 23:00-06:30", "23:00–06:30, alerts held for a digest")
        await bot.ask(BOB, "/quiet silent", "alerts sent silently")
        await bot.ask(BOB, "/previews off", "link previews off")
        settled = prefs_row(bot, BOB)
        refusals = {
            "/digest 25:00": "not a time of day",
            "/digest 1 2 3 4 5 6 7": "At most 6",
            "/quiet 22:00": "a start and an end",
            "/quiet 10-10": "different times",
            "/timezone Atlantis": "don't know the time zone",
            "/previews maybe": "on or off",
        }
        for text, reason in refusals.items():
            reply = await bot.ask(BOB, text, reason)
            assert "Nothing was changed" in reply.plain and "Usage:" in reply.plain
        assert prefs_row(bot, BOB) == settled
        reply = await bot.ask(BOB, "/digest", "This chat gets")
        assert "a digest at 07:30, 19:00" in reply.plain
        await bot.ask(BOB, "/digest off", "News: instant alerts")
        await bot.ask(BOB, "/quiet off", "quiet hours: off")
        help_text = await bot.ask(BOB, "/help", "What I do")
        for command in ("/settings", "/digest", "/quiet", "/timezone", "/previews"):
            assert command in help_text.plain


async def test_digest_mode_turns_an_alert_into_a_digest(tmp_path: Path) -> None:
    async with chat_bot(tmp_path, items=HISTORY) as bot:
        bot.follow(CAROL, "harbour")
        bot.follow(DAVE, "harbour")
        later = (datetime.now(UTC) + timedelta(hours=3)).strftime("%H:%M")
        await bot.ask(CAROL, f"/digest {later}", f"a digest at {later}")
        await bot.ask(DAVE, "/previews off", "link previews off")
        mark = bot.telegram.mark()
        bot.publish(story(2, "Harbour pilots end <strike> & return", minutes_ago=1))
        alert = await bot.message(DAVE, "Harbour pilots", since=mark, timeout=15)
        assert alert.link_preview_disabled and not alert.silent
        await held(bot, CAROL, 1)
        assert [m for m in bot.telegram.messages(CAROL) if m.seq > mark] == []

        await release_due(bot, CAROL)
        digest = await bot.message(CAROL, "Your digest", since=mark)
        assert "1 story" in digest.plain and "Harbour pilots end <strike> & return" in digest.plain
        assert digest.links == ["https://news.example.org/topics/2"]
        assert "harbour" in digest.plain  # the topic heading
        assert bot.db("select count(*) from held_alert") == [(0,)]


async def test_quiet_hours_hold_then_release_and_silent_alerts(tmp_path: Path) -> None:
    async with chat_bot(tmp_path, items=HISTORY) as bot:
        bot.follow(ALICE, "harbour")
        bot.follow(BOB, "harbour")
        now = datetime.now(UTC)
        window = f"{now - timedelta(hours=1):%H:%M}-{now + timedelta(hours=1):%H:%M}"
        await bot.ask(ALICE, f"/quiet {window}", "alerts held for a digest")
        await bot.ask(BOB, f"/quiet {window} silent", "alerts sent silently")
        mark = bot.telegram.mark()
        bot.publish(story(3, "Harbour lights go dark tonight", minutes_ago=1))
        alert = await bot.message(BOB, "Harbour lights", since=mark, timeout=15)
        assert alert.silent
        await held(bot, ALICE, 1)
        assert [m for m in bot.telegram.messages(ALICE) if m.seq > mark] == []

        await release_due(bot, ALICE)  # when the quiet hours end
        digest = await bot.message(ALICE, "Your digest", since=mark)
        assert "Harbour lights go dark tonight" in digest.plain

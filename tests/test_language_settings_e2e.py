"""End to end: /settings, the buttons under alerts and digests speak each chat's language.

The real Application answers through the door to the stand-in Bot API (Telegram's limits
on); digests are released by the digest job's service at the time they are due.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.support.chat_bot import ChatBot, chat_bot
from tests.support.digests import held, release_due
from tests.support.live_bot import story
from tests.support.telegram_api import SentMessage

HANS = 401
OLGA = 402
PAT = 403
HISTORY = [story(1, "Old harbour crane is torn down", minutes_ago=30)]


def labels(message: SentMessage) -> list[str]:
    return [b["text"] for row in message.buttons for b in row]


async def german(bot: ChatBot, chat: int) -> None:
    await bot.ask(chat, "/language de", "✅ Sprache: Deutsch")


async def test_a_german_chats_settings_and_their_buttons_are_german(tmp_path: Path) -> None:
    async with chat_bot(tmp_path, items=HISTORY) as bot:
        await german(bot, HANS)
        menu = await bot.ask(HANS, "/settings", "<b>⚙️ Einstellungen für diesen Chat</b>")
        assert "Nachrichten: Sofort-Benachrichtigungen" in menu.plain
        assert "Ruhezeiten: aus" in menu.plain and "Linkvorschauen: an" in menu.plain
        assert "Oder tippe: /digest Uhrzeiten" in menu.plain
        shown = labels(menu)
        assert {"✅ Sofort-Benachrichtigungen", "Übersicht", "✅ Keine Ruhezeiten"} <= set(shown)
        assert {"Moskau", "Tokio", "Linkvorschauen: an ✅"} <= set(shown)
        assert not any("Instant" in text or "Digest" in text for text in shown)

        answer, edit = await bot.tap(menu, "Übersicht", user_id=HANS)
        assert answer.text == "✅ Gespeichert."
        assert edit is not None and "Nachrichten: eine Übersicht um 08:00" in edit.plain
        assert "Nächste Übersicht:" in edit.plain and "Next digest" not in edit.plain
        _, edit = await bot.tap(bot.current(menu), "Berlin", user_id=HANS)
        assert edit is not None and "Zeitzone: Europe/Berlin (dort ist es jetzt" in edit.plain
        assert "✅ Übersicht" in labels(bot.current(menu))
        # Taking away the last time is refused, in German.
        answer, _ = await bot.tap(bot.current(menu), "✅ 08:00", user_id=HANS, edited=False)
        assert answer.text is not None and "mindestens eine Uhrzeit" in answer.text

        # Typed commands: the answer, the refusal with its reason, and the usage.
        await bot.ask(HANS, "/quiet 22:00-07:00", "✅ Gespeichert. Nachrichten:")
        refused = await bot.ask(HANS, "/digest 25:00", "„25:00“ ist keine Uhrzeit")
        assert "Es wurde nichts geändert." in refused.plain and "Verwendung:" in refused.plain
        refused = await bot.ask(HANS, "/timezone Atlantis", "Die Zeitzone „Atlantis“")
        assert "<code>/timezone Europe/Berlin</code>" in refused.text
        await bot.ask(HANS, "/previews", "Linkvorschauen: an.")
        await bot.ask(HANS, "/quiet", "Ruhezeiten: <b>22:00–07:00, Benachrichtigungen warten")


async def test_a_german_chats_alert_has_german_topics_line_and_buttons(tmp_path: Path) -> None:
    async with chat_bot(tmp_path, items=HISTORY) as bot:
        bot.follow(HANS, "harbour", "Sports")
        bot.follow(PAT, "harbour")
        await german(bot, HANS)
        await bot.ask(HANS, "/timezone Berlin", "Zeitzone <b>Europe/Berlin</b>")
        mark = bot.telegram.mark()
        bot.publish(story(10, "Harbour cranes return to Port Ellis", categories=["Football"]))
        alert = await bot.message(HANS, "Harbour cranes", since=mark, timeout=15)
        english = await bot.message(PAT, "Harbour cranes", since=mark)
        # The built-in topic is named as the chat knows it ("Sport"); the story stays as is.
        assert "🔔 Deine Themen: harbour, Sport" in alert.plain
        assert labels(alert) == ["🔕 harbour für 24 Std. stumm", "✖ harbour entfolgen"]
        assert "🔔 Your topic: harbour" in english.plain
        assert labels(english) == ["🔕 Mute harbour for 24 h", "✖ Unfollow harbour"]

        # Muting answers and edits in German, with the end in the chat's zone.
        answer, edit = await bot.tap(alert, "stumm", user_id=HANS)
        [(until,)] = bot.db("select until from topic_mute where chat_id = :c", c=HANS)
        ends = datetime.fromisoformat(str(until)).replace(tzinfo=UTC)
        local = ends.astimezone(ZoneInfo("Europe/Berlin"))
        clock = f"{local:%H:%M} {local.tzname()}"
        assert re.fullmatch(r"\d\d:\d\d CES?T", clock)
        assert answer.text == f"🔕 harbour ist bis {clock} stummgeschaltet."
        assert edit is not None
        assert labels(bot.current(alert)) == [
            f"🔕 Stumm bis {clock} · Rückgängig",
            "✖ harbour entfolgen",
        ]
        answer, _ = await bot.tap(bot.current(alert), "Rückgängig", user_id=HANS)
        assert answer.text == "Benachrichtigungen für harbour sind wieder an."
        answer, _ = await bot.tap(bot.current(alert), "entfolgen", user_id=HANS)
        assert answer.text == "Du folgst harbour nicht mehr."
        assert labels(bot.current(alert)) == ["Entfolgt · Wieder folgen"]
        answer, _ = await bot.tap(bot.current(alert), "Wieder folgen", user_id=HANS)
        assert answer.text == "✅ Du folgst harbour wieder."

        # After /subscribe, "Show 3 latest" and its stories are framed in German too.
        reply = await bot.ask(HANS, "/subscribe crane", "✅ <b>crane</b> abonniert")
        assert labels(reply) == ["📰 3 neueste zeigen"]
        answer, _ = await bot.tap(reply, "neueste", user_id=HANS)
        assert answer.text is not None and answer.text.startswith("Neueste Meldungen: ")
        await bot.message(HANS, "Ganze Meldung lesen", since=mark)


async def test_one_release_renders_each_digest_in_its_chats_language(tmp_path: Path) -> None:
    async with chat_bot(tmp_path, items=HISTORY) as bot:
        later = (datetime.now(UTC) + timedelta(hours=3)).strftime("%H:%M")
        for chat in (HANS, OLGA, PAT):
            bot.follow(chat, "harbour", "Sports")
        await german(bot, HANS)
        await bot.ask(OLGA, "/language ru", "✅ Язык: Русский")
        await bot.ask(HANS, f"/digest {later}", f"eine Übersicht um {later}")
        await bot.ask(OLGA, f"/digest {later}", f"дайджест в {later}")
        await bot.ask(PAT, f"/digest {later}", f"a digest at {later}")
        mark = bot.telegram.mark()
        bot.publish(story(2, "Harbour pilots end their strike", minutes_ago=2))
        bot.publish(story(3, "Rovers win the cup final", minutes_ago=1, categories=["Sport"]))
        for chat in (HANS, OLGA, PAT):
            await held(bot, chat, 2)

        assert await release_due(bot, HANS) == 3  # the three chats' digests in one release
        de = await bot.message(HANS, "Harbour pilots end their strike", since=mark)
        ru = await bot.message(OLGA, "Harbour pilots end their strike", since=mark)
        en = await bot.message(PAT, "Harbour pilots end their strike", since=mark)
        assert de.plain.startswith("📰 Deine Übersicht: 2 Meldungen")
        assert "\nSport\n" in de.plain and "Sports" not in de.plain
        assert ru.plain.startswith("📰 Ваш дайджест: 2 новости")
        assert "\nСпорт\n" in ru.plain
        assert en.plain.startswith("📰 Your digest: 2 stories")
        assert "\nSports\n" in en.plain
        for message in (de, ru, en):
            assert "Rovers win the cup final" in message.plain


async def test_the_language_is_chosen_in_settings_too(tmp_path: Path) -> None:
    async with chat_bot(tmp_path, items=HISTORY) as bot:
        menu = await bot.ask(OLGA, "/settings", "<b>⚙️ Settings for this chat</b>")
        assert "Language: English" in menu.plain
        assert {"✅ 🇬🇧 English", "🇩🇪 Deutsch", "🇪🇸 Español", "🇷🇺 Русский"} <= set(labels(menu))
        answer, edit = await bot.tap(menu, "🇷🇺 Русский", user_id=OLGA)
        # The answer and the message are already in the new language.
        assert answer.text is not None and "Settings" not in (edit.plain if edit else "")
        assert edit is not None and "Язык: Русский" in edit.plain
        assert "✅ 🇷🇺 Русский" in labels(bot.current(menu))
        # The choice is the chat's language from now on, as with /language.
        await bot.ask(OLGA, "/help", "<b>")
        helped = bot.telegram.messages(OLGA)[-1]
        assert "What I do" not in helped.plain
        # A forged language is out of date and changes nothing.
        tg = bot.telegram
        query_id = tg.send_callback_update(
            chat_id=OLGA, user_id=OLGA, message_id=menu.message_id, data="st:lang:xx"
        )
        bot.deliver()
        answer = await bot.wait_for(
            lambda: next(
                (a for a in tg.callback_answers() if a.callback_query_id == query_id), None
            )
        )
        assert answer.text is not None and "Settings" not in answer.text
        rows = bot.db("select language from chat where id = :chat", chat=OLGA)
        assert rows == [("ru",)]

"""End to end: each chat reads the bot in its language (/language, or the user's at /start).

The real Application answers through the door to the stand-in Bot API (Telegram's limits
on). Checks that don't depend on one another use chats of their own.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.chat_bot import ChatBot, chat_bot
from tests.support.live_bot import story

HANS = 301
LUCIA = 302
OLGA = 303
PAT = 304
GROUP = -100_700
OWNER = 310
MEMBER = 311


def language_of(bot: ChatBot, chat_id: int) -> str | None:
    rows = bot.db("SELECT language FROM chat WHERE id = :id", id=chat_id)
    return rows[0][0] if rows else None


async def test_a_german_user_gets_german_start_and_help(tmp_path: Path) -> None:
    async with chat_bot(tmp_path) as bot:
        bot.telegram.user_languages[HANS] = "de-AT"
        await bot.ask(HANS, "/start", "<b>Willkommen!</b>")
        assert language_of(bot, HANS) == "de"
        # Built-in topic names are understood as the chat sees them ("Sport" is "Sports").
        await bot.ask(HANS, "/subscribe sport", "✅ <b>Sport</b> abonniert")
        assert (
            bot.subscriptions(HANS)[0][0]
            == bot.db("SELECT canonical FROM catalog_topic WHERE name = 'Sports'")[0][0]
        )
        shown = await bot.ask(HANS, "/help", "<b>Was ich tue</b>")
        assert "/language" in shown.text and "What I do" not in shown.text
        # The chat keeps its language when the user's app speaks another one later.
        bot.telegram.user_languages[HANS] = "ru"
        await bot.ask(HANS, "/topics", "<b>Dieser Chat folgt 1 Thema:</b>")


async def test_language_switches_replies_and_bad_codes_change_nothing(tmp_path: Path) -> None:
    async with chat_bot(tmp_path) as bot:
        await bot.ask(LUCIA, "/start", "Welcome!")
        assert language_of(bot, LUCIA) == "en"
        await bot.ask(LUCIA, "/language es", "✅ Idioma: Español")
        assert language_of(bot, LUCIA) == "es"
        await bot.ask(LUCIA, "/help", "<b>Qué hago</b>")
        await bot.ask(LUCIA, "/subscribe harbour", "✅ Suscrito a <b>harbour</b>")
        refused = await bot.ask(LUCIA, "/language xx", "No hablo <b>xx</b>")
        for code in ("en", "de", "es", "ru"):
            assert f"<code>{code}</code>" in refused.text
        assert language_of(bot, LUCIA) == "es"
        await bot.ask(LUCIA, "/language <b>", "No hablo <b>&lt;b&gt;</b>")
        await bot.ask(LUCIA, "/language English", "✅ Language: English")
        await bot.ask(LUCIA, "/help", "<b>What I do</b>")


async def test_language_buttons_switch_in_place(tmp_path: Path) -> None:
    async with chat_bot(tmp_path) as bot:
        menu = await bot.ask(OLGA, "/language", "<b>Language</b>")
        labels = [b["text"] for row in menu.buttons for b in row]
        assert labels == ["✅ 🇬🇧 English", "🇩🇪 Deutsch", "🇪🇸 Español", "🇷🇺 Русский"]
        answer, edit = await bot.tap(menu, "Русский", user_id=OLGA)
        assert answer.text is not None and answer.text.startswith("✅ Язык: Русский")
        assert edit is not None and "<b>Язык</b>" in edit.text
        assert language_of(bot, OLGA) == "ru"
        now = bot.current(menu)
        assert [b["text"] for row in now.buttons for b in row][3] == "✅ 🇷🇺 Русский"
        catalog = await bot.ask(OLGA, "/subscribe", "<b>Выберите темы</b>")
        labels = [b["text"] for row in catalog.buttons for b in row]
        assert "Спорт" in labels and "Sports" not in labels
        answer, _ = await bot.tap(catalog, "Спорт", user_id=OLGA)
        assert answer.text == "✅ Вы следите за темой «Спорт»"
        listed = await bot.ask(OLGA, "/topics", "<b>Этот чат следит за 1 темой:</b>")
        assert "<b>Спорт</b>" in listed.text
        await bot.ask(OLGA, "/nonsense", "Такой команды я не знаю")


async def test_in_groups_only_administrators_change_the_language(tmp_path: Path) -> None:
    async with chat_bot(tmp_path) as bot:
        tg = bot.telegram
        tg.set_member_status(GROUP, OWNER, "creator")
        tg.set_member_status(GROUP, MEMBER, "member")
        group = {"chat_type": "supergroup"}
        await bot.ask(
            GROUP,
            "/language de",
            "Only this chat's administrators can change its language.",
            user_id=MEMBER,
            **group,
        )
        assert language_of(bot, GROUP) is None
        menu = await bot.ask(GROUP, "/language", "<b>Language</b>", user_id=OWNER, **group)
        answer, _ = await bot.tap(menu, "Deutsch", user_id=MEMBER, edited=False)
        assert answer.text == "Only this chat's administrators can change its language."
        assert language_of(bot, GROUP) is None
        await bot.ask(GROUP, "/language de", "✅ Sprache: Deutsch", user_id=OWNER, **group)
        await bot.ask(GROUP, "/language es", "Nur die Administratoren", user_id=MEMBER, **group)
        assert language_of(bot, GROUP) == "de"


async def test_the_command_menu_speaks_each_language(tmp_path: Path) -> None:
    async with chat_bot(tmp_path) as bot:
        await bot.ask(PAT, "/help", "<b>What I do</b>")
        english = {c["command"]: c["description"] for c in bot.telegram.commands()}
        german = {c["command"]: c["description"] for c in bot.telegram.commands(language_code="de")}
        russian = bot.telegram.commands(language_code="ru")
        assert english["language"] == "Choose the language I answer in"
        assert german["language"] == "Sprache wählen, in der ich antworte"
        assert set(german) == set(english) == {c["command"] for c in russian}
        assert bot.telegram.commands(language_code="es")[0]["description"].startswith("Seguir")


async def test_unchosen_chats_answer_in_the_users_language(tmp_path: Path) -> None:
    async with chat_bot(tmp_path) as bot:
        bot.telegram.user_languages[PAT] = "es-MX"
        await bot.ask(PAT, "/help", "<b>Qué hago</b>")
        assert language_of(bot, PAT) is None


async def test_alerts_frame_the_story_in_each_chats_language(tmp_path: Path) -> None:
    async with chat_bot(tmp_path, items=[story(1, "Old news from the harbour")]) as bot:
        await bot.ask(HANS, "/subscribe harbour", "Subscribed")
        await bot.ask(HANS, "/language de", "✅ Sprache: Deutsch")
        await bot.ask(LUCIA, "/subscribe harbour", "Subscribed")
        bot.publish(story(2, "Harbour pilots end their strike"))
        german = await bot.message(HANS, "Harbour pilots end their strike", timeout=15)
        english = await bot.message(LUCIA, "Harbour pilots end their strike", timeout=15)
        # The story stays as the feed wrote it; only the words around it are translated.
        assert "Ganze Meldung lesen</a>" in german.text
        assert "Read the full story</a>" in english.text
        await bot.ask(HANS, "/latest harbour", "Ganze Meldung lesen")

"""End to end in private chats: queries, the catalog as buttons, /topics, /testtopic, /latest.

The real Application handles each update (tests/support/chat_bot.py) and answers through the
door to the stand-in Bot API, Telegram's limits on. Checks that don't depend on one another
use chats of their own, so no chat's answers wait for another check's.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.db import subscriptions
from bot.topics import parse_query
from bot.topics.catalog import DEFAULT_CATALOG, find_entry
from tests.support.chat_bot import chat_bot
from tests.support.live_bot import story

ALICE = 111
BOB = 222
CAROL = 333
DAVE = 444
ADMIN = 999
EDITOR = 998

CATALOG_NAMES = [
    "World",
    "Politics",
    "Business",
    "Technology",
    "Science",
    "Health",
    "Sports",
    "Entertainment",
]


def canonical(name: str) -> str:
    entry = find_entry(DEFAULT_CATALOG, name)
    assert entry is not None
    return entry.query.canonical


# 24 stories, newest first: /testtopic looks at the 20 newest only.
STORIES = [
    story(1, "Harbour pilots end strike at Port Ellis", minutes_ago=1),
    story(2, "Rovers win the cup final in extra time", minutes_ago=2, categories=["Sport"]),
    story(3, "Shares & bonds <rally> after rate pause", minutes_ago=3),
    story(4, "Valdora opens a new harbour bridge", minutes_ago=4),
    *(story(n, f"Council minutes, part {n}", minutes_ago=n) for n in range(5, 21)),
    story(21, "Tennis star retires after twenty seasons", minutes_ago=21),
    story(22, "Old harbour crane is torn down", minutes_ago=22),
    story(23, "Kosovo and Serbia hold peace talks", minutes_ago=23),
    story(24, "Football transfer talks stall in Kosovo", minutes_ago=24),
]


async def test_catalog_buttons_toggle_the_same_message(tmp_path: Path) -> None:
    async with chat_bot(tmp_path, items=STORIES[:4]) as bot:
        menu = await bot.ask(ALICE, "/subscribe", "Pick your topics")
        labels = [b["text"] for row in menu.buttons for b in row]
        assert labels == CATALOG_NAMES
        for row in menu.buttons:
            for button in row:
                assert len(button["callback_data"].encode()) <= 64

        answer, edit = await bot.tap(menu, "Sports", user_id=ALICE)
        assert answer.text is not None and "Following Sports" in answer.text
        assert edit is not None and edit.method in {"editMessageReplyMarkup", "editMessageText"}
        now = bot.current(menu)
        labels = [b["text"] for row in now.buttons for b in row]
        assert "✅ Sports" in labels and "World" in labels
        assert bot.subscriptions(ALICE) == [(canonical("Sports"), None)]

        # A second tap on the same (edited) message drops it again.
        answer, _ = await bot.tap(now, "Sports", user_id=ALICE)
        assert answer.text is not None and "Stopped following Sports" in answer.text
        labels = [b["text"] for row in bot.current(menu).buttons for b in row]
        assert labels == CATALOG_NAMES
        assert bot.subscriptions(ALICE) == []
        assert len(bot.telegram.messages(ALICE)) == 1  # no new messages, only edits

        # A catalog name in any case subscribes to the catalog topic, shown by its name.
        reply = await bot.ask(BOB, "/subscribe WORLD", "Subscribed")
        assert "Subscribed to World." in reply.plain
        assert bot.subscriptions(BOB) == [(canonical("World"), None)]
        menu = await bot.ask(BOB, "/subscribe", "Pick your topics")
        assert "✅ World" in [b["text"] for row in menu.buttons for b in row]

        # A story in the feed's Sport category alerts the Sports topic.
        await bot.ask(CAROL, "/subscribe sports", "Subscribed to Sports")
        mark = bot.telegram.mark()
        bot.publish(story(40, "Lisandra Rovers sign a new keeper", categories=["Sport"]))
        await bot.message(CAROL, "Lisandra Rovers sign", since=mark, timeout=15)

        # /topics: catalog topics by name, a remove button each; removing edits the list.
        bot.follow(DAVE, "World", "Sports", '"peace talks" kosovo')
        listing = await bot.ask(DAVE, "/topics", "This chat follows 3 topics")
        assert "World" in listing.plain and "Sports" in listing.plain
        assert 'kosovo "peace talks"' in listing.plain
        remove = [b["text"] for row in listing.buttons for b in row]
        assert remove == ["✖ World", "✖ Sports", '✖ kosovo "peace talks"']
        answer, edit = await bot.tap(listing, "✖ World", user_id=DAVE)
        assert answer.text is not None and "Stopped following World" in answer.text
        assert edit is not None and "follows 2 topics" in edit.plain
        assert "World" not in edit.plain
        assert len(bot.subscriptions(DAVE)) == 2
        now = bot.current(listing)
        await bot.tap(now, "✖ Sports", user_id=DAVE)
        _, edit = await bot.tap(bot.current(listing), "peace talks", user_id=DAVE)
        assert edit is not None and "follows no topics" in edit.plain
        assert bot.current(listing).buttons == []
        assert bot.subscriptions(DAVE) == []


async def test_query_forms_and_refusals(tmp_path: Path) -> None:
    async with chat_bot(tmp_path, items=STORIES[:4]) as bot:
        # Words AND, phrases, OR, exclusions; case, accents and possessives fold alike.
        reply = await bot.ask(ALICE, '/subscribe Kosovo\'s "Peace Talks" -Football', "Subscribed")
        assert 'Subscribed to kosovo "peace talks" -football.' in reply.plain
        reply = await bot.ask(BOB, '/subscribe kosovo "peace talks" -FOOTBALL', "Subscribed")
        # One shared topic row, two subscribing chats.
        assert bot.db("select count(*) from topic") == [(1,)]
        assert bot.db("select count(*) from subscription") == [(2,)]
        await bot.ask(ALICE, '/subscribe kosovo "peace talks" -football', "already subscribed")
        await bot.ask(ALICE, "/subscribe valdora OR kosovo", "Subscribed to kosovo OR valdora")
        # A lowercase "or" separates alternatives too, as /help says: the same topic.
        await bot.ask(BOB, "/subscribe Kosovo or Valdora", "Subscribed to kosovo OR valdora")
        await bot.ask(ALICE, "/subscribe kosovo or valdora", "already subscribed")
        assert bot.db("select count(*) from topic") == [(2,)]

        refusals = {
            '/subscribe "peace talks': "A quote is not closed",
            "/subscribe -football": "only excludes words",
            "/subscribe kosovo OR": "Nothing follows OR",
            "/subscribe OR kosovo": "Nothing comes before OR",
            "/subscribe !!!": "no letters or digits",
            "/subscribe " + " ".join(f"w{n}" for n in range(11)): "11 terms",
            "/subscribe " + "x" * 201: "too long",
            "/subscribe kosovo -kosovo": "excludes everything",
            "/subscribe gold or": 'quote it: "or"',
        }
        # Each from a chat of its own, all at once; none of them subscribes to anything.
        asked = {700 + n: (text, reason) for n, (text, reason) in enumerate(refusals.items())}
        replies = await asyncio.gather(
            *(bot.ask(chat, text, reason) for chat, (text, reason) in asked.items())
        )
        for reply in replies:
            assert "Usage: /subscribe" in reply.plain
        for chat in asked:
            assert bot.subscriptions(chat) == []
        assert len(bot.subscriptions(ALICE)) == 2

        # /unsubscribe takes any spelling of the query, or a catalog name.
        await bot.ask(BOB, "/unsubscribe KOSOVO OR Valdora", "Unsubscribed from")
        kept = parse_query('kosovo "peace talks" -football').canonical
        assert bot.subscriptions(BOB) == [(kept, None)]
        await bot.ask(CAROL, "/unsubscribe sports", "isn't subscribed to Sports")
        await bot.ask(DAVE, "/unsubscribe", "Tell me which topic to drop")

        # The per-chat limit: say so and point to /topics.
        bot.follow(CAROL, *(f"filler{n}" for n in range(subscriptions.MAX_TOPICS_PER_CHAT)))
        reply = await bot.ask(CAROL, "/subscribe one more", "already follows 50 topics")
        assert "/topics" in reply.plain
        menu = await bot.ask(CAROL, "/subscribe", "Pick your topics")
        answer, _ = await bot.tap(menu, "Health", user_id=CAROL, edited=False)
        assert answer.show_alert and answer.text is not None and "50 topics" in answer.text
        assert len(bot.subscriptions(CAROL)) == subscriptions.MAX_TOPICS_PER_CHAT


async def test_testtopic_marks_the_newest_stories(tmp_path: Path) -> None:
    # The made-up headlines share words (and blurbs) enough to read as few stories; each
    # counts alone here (grouping in /testtopic and /latest: tests/test_stories_e2e.py).
    async with chat_bot(tmp_path, items=STORIES, story_window_hours=0) as bot:
        reply = await bot.ask(ALICE, "/testtopic harbour", "newest stories")
        # Only the 20 newest are tried: the old crane story (22nd) is not among them.
        assert "harbour matches 2 of the 20 newest stories" in reply.plain
        lines = reply.plain.splitlines()
        assert "✅ Harbour pilots end strike at Port Ellis" in lines
        assert "✅ Valdora opens a new harbour bridge" in lines
        assert "— Rovers win the cup final in extra time" in lines
        # Headlines from feeds are escaped, not parsed as HTML.
        assert "— Shares & bonds <rally> after rate pause" in lines
        assert "crane" not in reply.plain
        assert "/subscribe harbour" in reply.plain

        reply = await bot.ask(ALICE, "/testtopic Sports", "newest stories")
        assert "Sports matches 1 of the 20 newest stories" in reply.plain
        assert "✅ Rovers win the cup final in extra time" in reply.plain.splitlines()

        reply = await bot.ask(ALICE, "/testtopic zeppelin", "newest stories")
        assert "matches 0 of the 20" in reply.plain and "None match" in reply.plain
        await bot.ask(ALICE, "/testtopic", "Usage: /testtopic")
        await bot.ask(ALICE, '/testtopic "harbour', "A quote is not closed")
        # Testing subscribes to nothing.
        assert bot.subscriptions(ALICE) == []


async def test_latest_counts_queries_and_catalog_names(tmp_path: Path) -> None:
    # The made-up headlines share words (and blurbs) enough to read as few stories; each
    # counts alone here (grouping in /testtopic and /latest: tests/test_stories_e2e.py).
    async with chat_bot(tmp_path, items=STORIES, story_window_hours=0) as bot:
        asks = [
            ("/latest", "Harbour pilots end strike"),
            ("/latest 0", "between 1 and 5 stories"),
            ("/latest harbour 9", "between 1 and 5 stories"),
            ("/latest sports", "Rovers win the cup final"),
            ('/latest kosovo -football "peace talks"', "Kosovo and Serbia"),
        ]
        # Each question in a chat of its own, all at once.
        await asyncio.gather(
            *(bot.ask(500 + n, text, contains) for n, (text, contains) in enumerate(asks))
        )
        mark = bot.say(ALICE, "/latest kosovo 2")
        await bot.message(ALICE, "Kosovo and Serbia", since=mark)
        await bot.message(ALICE, "Football transfer talks", since=mark)
        reply = await bot.ask(BOB, "/latest zeppelin", "No stored story matches")
        assert "/subscribe zeppelin" in reply.plain
        reply = await bot.ask(CAROL, '/latest "unclosed', "A quote is not closed")
        assert "Usage: /latest" in reply.plain


async def test_operators_edit_the_catalog(tmp_path: Path) -> None:
    async with chat_bot(tmp_path, items=STORIES[:4], admin_ids=[ADMIN, EDITOR]) as bot:
        await bot.ask(BOB, "/addtopic Climate climate", "only the bot's operators")
        await bot.ask(BOB, "/removetopic Sports", "only the bot's operators")
        help_text = await bot.ask(EDITOR, "/help", "/subscribe")
        assert "/addtopic" in help_text.plain and "/removetopic" in help_text.plain
        help_text = await bot.ask(BOB, "/help", "/subscribe")
        assert "/addtopic" not in help_text.plain and "/testtopic" in help_text.plain

        reply = await bot.ask(ADMIN, '/addtopic Climate climate OR "global warming"', "Added")
        assert 'Climate = climate OR "global warming"' in reply.plain
        menu = await bot.ask(ALICE, "/subscribe", "Pick your topics")
        assert [b["text"] for row in menu.buttons for b in row][-1] == "Climate"
        await bot.tap(menu, "Climate", user_id=ALICE)
        await bot.ask(ALICE, "/subscribe sports", "Subscribed to Sports")

        # Changing a topic's query takes its chats along.
        reply = await bot.ask(ADMIN, "/addtopic sports sport OR hockey", "Updated")
        assert "1 chat(s) now follow the new query" in reply.plain
        assert (parse_query("sport OR hockey").canonical, None) in bot.subscriptions(ALICE)
        listing = await bot.ask(ALICE, "/topics", "follows 2 topics")
        assert "Sports" in listing.plain and "Climate" in listing.plain

        await bot.ask(EDITOR, "/addtopic 9lives cats", "starts with a letter")
        await bot.ask(CAROL, '/addtopic Twin climate OR "global warming"', "only the bot's")
        await bot.ask(EDITOR, '/addtopic Twin climate OR "global warming"', "Climate already has")
        await bot.ask(DAVE, "/addtopic Bad -only", "only the bot's operators")
        await asyncio.gather(
            bot.ask(ADMIN, "/addtopic Bad -only", "only excludes words"),
            bot.ask(EDITOR, "/addtopic Lonely", "Usage: /addtopic"),
        )

        # Removing keeps the chats' subscriptions as plain queries.
        reply = await bot.ask(ADMIN, "/removetopic CLIMATE", "Removed")
        assert "Climate" in reply.plain
        menu = await bot.ask(ALICE, "/subscribe", "Pick your topics")
        assert "Climate" not in [b["text"] for row in menu.buttons for b in row]
        listing = await bot.ask(ALICE, "/topics", "follows 2 topics")
        assert 'climate OR "global warming"' in listing.plain
        # Whatever was typed comes back escaped.
        reply = await bot.ask(ADMIN, "/removetopic <b>&amp;", "has no")
        assert "<b>&amp;" in reply.plain

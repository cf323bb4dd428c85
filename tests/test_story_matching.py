"""Alerts, /testtopic and /latest match a story on the same text: headline, the feed's blurb
with the summary, and categories (bot/topics/matching.py, document_for)."""

from __future__ import annotations

from pathlib import Path

from tests.support.chat_bot import chat_bot
from tests.support.live_bot import story

ALICE = 111
BOB = 222

ARTICLE = "".join(
    f"<p>{sentence}</p>"
    for sentence in (
        "Border crossings reopened on Tuesday morning after eleven days of closures that "
        "left lorries queued for miles along the mountain road.",
        "Customs officers said the first trucks passed within minutes of the barrier lifting, "
        "and that the backlog should clear by the weekend.",
        "Hauliers welcomed the decision but asked for longer opening hours at the smaller "
        "checkpoints, which still close at dusk.",
        "Talks on a permanent timetable resume next month, officials said.",
    )
)


async def test_a_story_matched_only_by_its_blurb_alerts_and_tests_alike(tmp_path: Path) -> None:
    history = [story(1, "Harbour pilots end strike at Port Ellis", minutes_ago=5)]
    async with chat_bot(tmp_path, items=history) as bot:
        await bot.ask(ALICE, "/subscribe valdora", "Subscribed to valdora")
        mark = bot.telegram.mark()
        # The topic's word is in the feed's blurb only: the summary comes from the full story
        # the feed carries, which never names the country.
        news = story(2, "Border crossings reopen after eleven days", minutes_ago=1)
        news["description"] = "Valdora and its neighbour agree to lift the barriers at dawn…"
        news["content_encoded"] = ARTICLE
        bot.publish(news)
        alert = await bot.message(ALICE, "Border crossings reopen", since=mark)
        # The story's own text never names it; the alert's last line names the chat's topic.
        story_text, _, matched = alert.plain.rpartition("\n\n")
        assert "valdora" not in story_text.lower()
        assert matched == "🔔 Your topic: valdora"
        (summary,) = bot.db("select summary from entry where key = 'guid:topics-2'")[0]
        assert "valdora" not in summary.lower()

        # /testtopic says yes to the story that alerted, and /latest finds it.
        reply = await bot.ask(BOB, "/testtopic valdora", "newest stories")
        assert "valdora matches 1 of the 2 newest stories" in reply.plain
        assert "✅ Border crossings reopen after eleven days" in reply.plain.splitlines()
        await bot.ask(BOB, "/latest valdora", "Border crossings reopen")

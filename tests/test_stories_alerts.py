"""The pure parts of one alert per story: alert or edit or nothing, edit pacing, the Also line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.delivery.render import (
    MAX_MESSAGE_CHARS,
    Alert,
    render_alert,
    utf16_len,
    visible_text,
)
from bot.delivery.story_edits import also_line, also_plain, edited_alert
from bot.stories.alerts import Source, also_sources, edit_due, plan_report

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_first_report_alerts_every_matched_chat() -> None:
    plan = plan_report(matched={1: None, 2: 7}, alerted={})
    assert plan.alerts == {1: None, 2: 7}
    assert plan.edits == []


def test_a_later_report_edits_alerted_chats_and_alerts_new_topics_once() -> None:
    # Chat 1 got the alert (no edit queued), chat 2 got it and has an edit queued, chat 3
    # follows a topic only this report matches; chat 4 got the alert but this report does
    # not match its topic: its alert is about the story, so it is edited too.
    plan = plan_report(matched={1: None, 2: None, 3: 5}, alerted={1: False, 2: True, 4: False})
    assert plan.alerts == {3: 5}
    assert plan.edits == [1, 4]


def test_nothing_when_every_chat_has_an_edit_waiting() -> None:
    plan = plan_report(matched={1: None}, alerted={1: True})
    assert plan.alerts == {} and plan.edits == []


def test_edits_wait_the_interval_after_the_last_one() -> None:
    ten = timedelta(minutes=10)
    assert edit_due(now=NOW, edited_at=None, interval=ten) == NOW
    assert edit_due(now=NOW, edited_at=NOW - timedelta(minutes=3), interval=ten) == NOW + (
        timedelta(minutes=7)
    )
    assert edit_due(now=NOW, edited_at=NOW - timedelta(hours=1), interval=ten) == NOW


def test_also_names_each_other_source_once_up_to_five() -> None:
    first = Source("Example Wire", "https://wire.example/1")
    reports = [
        Source("example wire", "https://wire.example/2"),  # the alerted source itself
        Source("Reuters", "https://r.example/1"),
        Source("AP", "https://ap.example/1"),
        Source("Reuters", "https://r.example/2"),
        Source("", "https://nameless.example/"),
        *(Source(f"Paper {n}", f"https://p{n}.example/") for n in range(6)),
    ]
    named, more = also_sources(reports, alerted=first)
    assert [s.name for s in named] == ["Reuters", "AP", "Paper 0", "Paper 1", "Paper 2"]
    assert more == 3


def test_also_line_links_and_escapes() -> None:
    sources = [
        Source("R&D <Daily>", 'https://r.example/a?x=1&y="2"'),
        Source("AP", None),
        Source("Bad link", "javascript:alert(1)"),
    ]
    line = also_line(sources, more=2)
    assert line == (
        'Also: <a href="https://r.example/a?x=1&amp;y=&quot;2&quot;">R&amp;D &lt;Daily&gt;</a>, '
        "AP, Bad link and 2 more"
    )
    assert also_plain(sources) == "Also: R&D <Daily>, AP, Bad link"


def test_edited_alert_fits_telegram_length_in_utf16() -> None:
    alert = Alert(
        title="Flood 🌊 warning",
        summary="🌊 " * 3000,
        link="https://wire.example/flood",
        source="Example Wire",
        published=NOW,
    )
    sources = [Source(f"Paper {'📰' * 40} {n}", f"https://p{n}.example/") for n in range(5)]
    html, plain = edited_alert(alert, sources, 4, alert_html=render_alert)
    assert utf16_len(visible_text(html)) <= MAX_MESSAGE_CHARS
    assert utf16_len(plain) <= MAX_MESSAGE_CHARS
    assert html.startswith("<b>Flood 🌊 warning</b>")
    assert html.endswith("and 4 more")
    assert plain.endswith("and 4 more")


def test_an_alert_without_other_sources_is_left_as_it_is() -> None:
    alert = Alert(title="T", summary="S", link=None, source="W", published=None)
    assert edited_alert(alert, [], alert_html=render_alert)[0] == render_alert(alert)


def test_a_chat_whose_alert_never_arrived_is_alerted_again_not_edited() -> None:
    plan = plan_report(
        matched={1: None, 2: None}, alerted={1: False, 2: False, 3: False}, undelivered={1, 3}
    )
    # Chat 1 matches again: a new alert. Chat 3 does not: nothing (no message to edit).
    assert plan.alerts == {1: None}
    assert plan.edits == [2]

"""The buttons under alerts and "Show 3 latest": callback data, keyboards, the matched line."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.delivery.alert_buttons import (
    MAX_ID,
    AlertAction,
    AlertPress,
    alert_data,
    alert_keyboard,
    backfill_data,
    has_button,
    local_clock,
    matched_line,
    matched_plain,
    muted_keyboard,
    parse_alert_data,
    parse_backfill_data,
    parse_topic_ids,
    personalize,
    unfollowed_keyboard,
    with_backfill,
    without_button,
)
from bot.delivery.render import MAX_MESSAGE_CHARS, utf16_len, visible_text
from bot.i18n import translator


def _data(markup: InlineKeyboardMarkup | None) -> list[str]:
    assert markup is not None
    return [str(b.callback_data) for row in markup.inline_keyboard for b in row]


def _texts(markup: InlineKeyboardMarkup | None) -> list[str]:
    assert markup is not None
    return [b.text for row in markup.inline_keyboard for b in row]


TAG = "0a1b2c3d"


def test_alert_data_round_trips_within_64_bytes() -> None:
    for action in AlertAction:
        for topic_id in (1, 42, MAX_ID):
            tag = "" if action is AlertAction.FOLLOW_CATALOG else TAG
            data = alert_data(action, topic_id, tag)
            assert len(data.encode()) <= 64
            assert parse_alert_data(data) == AlertPress(action, topic_id, tag)
    assert backfill_data(MAX_ID, TAG).startswith("bf:")
    assert len(backfill_data(MAX_ID, TAG).encode()) <= 64
    with pytest.raises(ValueError):
        alert_data(AlertAction.MUTE, 3, "nothex!!")


@pytest.mark.parametrize(
    "data",
    [
        None,
        "",
        "al:",
        "al:m",
        "al:m:",
        "al:m:3",  # no fingerprint
        "al:m:3:",
        "al:m:3:0a1b2c3",  # short
        "al:m:3:0a1b2c3d4",  # long
        "al:m:3:0A1B2C3D",  # upper case
        "al:m:3:0a1b2c3g",
        "al:m:0:0a1b2c3d",
        "al:m:-3:0a1b2c3d",
        "al:m:+3:0a1b2c3d",
        "al:m: 3:0a1b2c3d",
        "al:m:3:0a1b2c3d:1",
        "al:m:3x:0a1b2c3d",
        "al:m:１２:0a1b2c3d",  # full-width digits
        "al:m:٣:0a1b2c3d",  # Arabic-Indic digit
        "al:m:" + "9" * 19 + ":0a1b2c3d",  # past a 64-bit id
        "al:m:" + "1" * 40 + ":0a1b2c3d",
        "al:z:3:0a1b2c3d",
        "al:mute:3:0a1b2c3d",
        "al::3:0a1b2c3d",
        "AL:m:3:0a1b2c3d",
        "al:c:3:0a1b2c3d",  # catalog ids carry no fingerprint
        "al:c:0",
        "tc:3",
        "bf:3:0a1b2c3d",
        "al:m:3:0a1b2c3d\n",
    ],
)
def test_forged_alert_data_is_refused(data: str | None) -> None:
    assert parse_alert_data(data) is None


def test_backfill_data_is_parsed_strictly() -> None:
    assert parse_backfill_data(f"bf:17:{TAG}") == (17, TAG)
    for bad in (
        None,
        "",
        "bf:",
        "bf:17",
        f"bf:0:{TAG}",
        f"bf:-1:{TAG}",
        f"bf:1e3:{TAG}",
        f"bf:17:{TAG}:1",
        "bf:17:xyz",
        f"al:m:17:{TAG}",
        "bf:" + "9" * 20 + f":{TAG}",
    ):
        assert parse_backfill_data(bad) is None


def test_stored_topic_ids_skip_junk_and_repeats() -> None:
    assert parse_topic_ids(None) == []
    assert parse_topic_ids("") == []
    assert parse_topic_ids("3,x,4,3, 5,,0,-1") == [3, 4, 5]


def test_matched_line_escapes_and_bounds_the_names() -> None:
    assert matched_line([]) == ""
    line = matched_line(["<b>Fish & chips</b>"])
    assert "&lt;b&gt;Fish &amp; chips&lt;/b&gt;" in line
    assert line.startswith("🔔 Your topic: ")
    many = matched_line(["World", "kosovo", "nato", "Sports", "rain"])
    assert visible_text(many) == "🔔 Your topics: World, kosovo, nato and 2 more"
    assert matched_plain(["a" * 100]).endswith("…")
    assert len(matched_plain(["a" * 100])) < 60


def test_alert_keyboards_name_the_topic_and_change_with_the_state() -> None:
    keyboard = alert_keyboard(7, TAG, "Sports")
    assert _texts(keyboard) == ["🔕 Mute Sports for 24 h", "✖ Unfollow Sports"]
    assert _data(keyboard) == [f"al:m:7:{TAG}", f"al:u:7:{TAG}"]
    until = datetime(2026, 12, 2, 14, 5, tzinfo=UTC)
    muted = muted_keyboard(7, TAG, "Sports", until)
    assert _texts(muted) == ["🔕 Muted until 14:05 UTC · Undo", "✖ Unfollow Sports"]
    assert _data(muted) == [f"al:x:7:{TAG}", f"al:u:7:{TAG}"]
    assert _texts(unfollowed_keyboard(7, TAG)) == ["Unfollowed · Follow again"]
    assert _data(unfollowed_keyboard(7, TAG)) == [f"al:f:7:{TAG}"]
    long = alert_keyboard(7, TAG, "word " * 40)
    assert all(len(text) <= 45 for text in _texts(long))


def test_personalize_adds_the_line_and_the_first_topics_buttons() -> None:
    topics = [(4, TAG, "World"), (9, "99999999", "rain & <x>")]
    html, plain, markup = personalize("<b>Flood</b>", "Flood", topics)
    assert html == "<b>Flood</b>\n\n🔔 Your topics: <b>World</b>, <b>rain &amp; &lt;x&gt;</b>"
    assert plain == "Flood\n\n🔔 Your topics: World, rain & <x>"
    assert _data(markup) == [f"al:m:4:{TAG}", f"al:u:4:{TAG}"]
    # Rows without topics (broadcasts, alerts queued before) go out as they were.
    assert personalize("<b>Flood</b>", "Flood", []) == ("<b>Flood</b>", "Flood", None)


def test_personalize_never_passes_the_length_limit() -> None:
    full = "x" * (MAX_MESSAGE_CHARS - 5)
    html, plain, markup = personalize(full, full, [(4, TAG, "World")])
    assert utf16_len(visible_text(html)) <= MAX_MESSAGE_CHARS
    assert utf16_len(plain) <= MAX_MESSAGE_CHARS
    assert markup is not None


def test_backfill_button_is_added_and_removed_alone() -> None:
    catalog = InlineKeyboardMarkup([[InlineKeyboardButton("World", callback_data="tc:1")]])
    offered = with_backfill(catalog, 12, TAG, "World")
    assert _data(offered) == ["tc:1", f"bf:12:{TAG}"]
    assert _texts(offered)[-1] == "📰 Show 3 latest: World"
    assert has_button(offered, f"bf:12:{TAG}") and not has_button(offered, f"bf:13:{TAG}")
    assert _data(without_button(offered, f"bf:12:{TAG}")) == ["tc:1"]
    assert without_button(with_backfill(None, 12, TAG), f"bf:12:{TAG}") is None
    assert without_button(None, "bf:12") is None


def test_follow_again_names_a_catalog_topic_by_its_catalog_id() -> None:
    assert _data(unfollowed_keyboard(7, TAG, catalog_id=3)) == ["al:c:3"]
    assert parse_alert_data("al:c:3") == AlertPress(AlertAction.FOLLOW_CATALOG, 3)


def test_keyboards_and_the_topics_line_in_a_chats_language_and_zone() -> None:
    de, ru = translator("de"), translator("ru")
    winter = datetime(2026, 12, 2, 14, 5, tzinfo=UTC)
    summer = datetime(2026, 7, 2, 14, 5, tzinfo=UTC)
    assert local_clock(winter, "Europe/Berlin") == "15:05 CET"
    assert local_clock(summer, "Europe/Berlin") == "16:05 CEST"
    assert local_clock(winter, "America/New_York") == "09:05 EST"
    assert local_clock(winter) == "14:05 UTC"
    assert local_clock(winter, "Nowhere/Atlantis") == "14:05 UTC"  # a stored zone gone bad
    muted = muted_keyboard(7, TAG, "Sports", winter, "Europe/Berlin", de)
    assert _texts(muted) == ["🔕 Stumm bis 15:05 CET · Rückgängig", "✖ Sport entfolgen"]
    assert _texts(alert_keyboard(7, TAG, "kosovo", ru)) == [
        "🔕 Заглушить kosovo на 24 ч",
        "✖ Отписаться: kosovo",
    ]
    assert _texts(unfollowed_keyboard(7, TAG, t=de)) == ["Entfolgt · Wieder folgen"]
    assert matched_line(["Sports"], de) == "🔔 Dein Thema: <b>Sport</b>"
    many = matched_line(["World", "kosovo", "nato", "Sports", "rain"], ru)
    assert many == "🔔 Ваши темы: <b>Мир</b>, <b>kosovo</b>, <b>nato</b> и ещё 2"
    html, _, markup = personalize("<b>Flood</b>", "Flood", [(4, TAG, "World")], de)
    assert html.endswith("🔔 Dein Thema: <b>Welt</b>")
    assert _texts(markup)[0] == "🔕 Welt für 24 Std. stumm"
    offered = with_backfill(None, 12, TAG, "World", translator("es"))
    assert _texts(offered) == ["📰 Ver las 3 últimas: Mundo"]

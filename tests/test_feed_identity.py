"""Canonical links and entry keys."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.feeds.identity import MAX_KEY_LENGTH, canonical_link, entry_key


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "https://News.Example.ORG/Stories/One?utm_source=rss&utm_medium=feed&id=7",
            "https://news.example.org/Stories/One?id=7",
        ),
        (
            "http://example.com/a?fbclid=XYZ&b=2&gclid=abc&a=1",
            "http://example.com/a?b=2&a=1",
        ),
        ("  https://example.com/story#comments \n", "https://example.com/story"),
        ("HTTPS://example.com:443/x", "https://example.com/x"),
        ("http://example.com:80/x", "http://example.com/x"),
        ("http://example.com:8080/x", "http://example.com:8080/x"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com/p?UTM_Campaign=spring&q=a%20b+c", "https://example.com/p?q=a%20b+c"),
        ("https://example.com/p?utm_source=x", "https://example.com/p"),
        ("https://[2001:DB8::1]:443/p", "https://[2001:db8::1]/p"),
        ("https://user:pw@Example.com/p", "https://user:pw@example.com/p"),
        ("https://example.com/p?utmost=1&x=", "https://example.com/p?utmost=1&x="),
    ],
)
def test_canonical_link(raw: str, expected: str) -> None:
    assert canonical_link(raw) == expected


@pytest.mark.parametrize("raw", ["not a link", "/relative/path", "http://[::1", "http://x:99999/"])
def test_canonical_link_leaves_non_urls_trimmed(raw: str) -> None:
    assert canonical_link(f"  {raw} ") == raw


def test_same_story_links_share_a_key() -> None:
    a = entry_key(
        guid=None, link="https://Example.com/s/1?utm_source=a#top", title="A", published=None
    )
    b = entry_key(guid=None, link="https://example.com:443/s/1?fbclid=z", title="B", published="x")
    assert a == b == "link:https://example.com/s/1"


def test_entry_key_prefers_guid_then_link_then_hash() -> None:
    assert entry_key(guid=" g-1 ", link="https://e.com/1", title="T", published=None) == "guid:g-1"
    assert entry_key(guid="  ", link="https://e.com/1", title="T", published=None).startswith(
        "link:"
    )
    hashed = entry_key(guid=None, link=" ", title="Storm closes pass", published="2025-01-02")
    assert hashed.startswith("hash:") and len(hashed) == len("hash:") + 64
    assert hashed == entry_key(
        guid=None, link=None, title=" Storm closes pass ", published="2025-01-02"
    )
    assert hashed != entry_key(
        guid=None, link=None, title="Storm closes pass", published="2025-01-03"
    )


def test_long_keys_are_hashed() -> None:
    long_guid = "urn:x:" + "a" * 600
    key = entry_key(guid=long_guid, link=None, title=None, published=None)
    assert len(key) <= MAX_KEY_LENGTH and key.startswith("guid:sha256:")
    assert key != entry_key(guid=long_guid + "b", link=None, title=None, published=None)
    long_link = "https://example.com/" + "p" * 600
    link_key = entry_key(guid=None, link=long_link, title=None, published=None)
    assert len(link_key) <= MAX_KEY_LENGTH and link_key.startswith("link:sha256:")


@given(
    guid=st.one_of(st.none(), st.text(max_size=700)),
    link=st.one_of(st.none(), st.text(max_size=700)),
    title=st.one_of(st.none(), st.text(max_size=50)),
    published=st.one_of(st.none(), st.text(max_size=30)),
)
def test_entry_key_is_bounded_and_stable(
    guid: str | None, link: str | None, title: str | None, published: str | None
) -> None:
    key = entry_key(guid=guid, link=link, title=title, published=published)
    assert 0 < len(key) <= MAX_KEY_LENGTH
    assert key.split(":", 1)[0] in {"guid", "link", "hash"}
    assert key == entry_key(guid=guid, link=link, title=title, published=published)


@given(st.text(max_size=200))
def test_canonical_link_is_idempotent(raw: str) -> None:
    once = canonical_link(raw)
    assert canonical_link(once) == once

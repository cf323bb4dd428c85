"""Matching entries against topics: the reference matcher and the topic index."""

from __future__ import annotations

import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.topics import Document, Query, QueryError, TopicIndex, matches, parse_query


def doc(title: str, summary: str = "", categories: tuple[str, ...] = ()) -> Document:
    return Document.from_fields(title=title, summary=summary, categories=categories)


def hit(query: str, document: Document) -> bool:
    return matches(parse_query(query), document)


# --- documents -------------------------------------------------------------------------


def test_document_keeps_one_field_per_part() -> None:
    document = doc("Talks in Zürich", "Envoys met.", ("World", "Central Europe"))
    assert document.fields == (
        ("talk", "in", "zurich"),
        ("envoy", "met"),
        ("world",),
        ("central", "europe"),
    )
    assert document.tokens == {"talk", "in", "zurich", "envoy", "met", "world", "central", "europe"}


def test_a_single_category_string_is_one_category() -> None:
    assert doc("x", categories="Central Europe").fields[2] == ("central", "europe")  # type: ignore[arg-type]


# --- the reference matcher -------------------------------------------------------------


def test_words_match_whole_tokens_only() -> None:
    assert hit("UN", doc("UN envoy arrives"))
    assert not hit("UN", doc("Talks continue until dawn", "A fun evening"))
    assert not hit("fun", doc("Funding cut for the festival"))


def test_folding_applies_to_entries() -> None:
    assert hit("zurich", doc("Bankers gather in Zürich"))
    assert hit("Zürich", doc("ZURICH STOCKS RALLY"))
    assert hit("kosovo", doc("Kosovo’s parliament votes"))
    assert hit("kosovo", doc("Kosovo's parliament votes"))
    assert hit("sanction", doc("New sanctions announced"))
    assert hit("sanctions", doc("A sanction is lifted"))
    assert hit("москва", doc("МОСКВА, 3 марта"))


def test_all_words_must_appear_anywhere() -> None:
    assert hit("nato russia", doc("NATO meets", "Russia responds", ("Europe",)))
    assert hit("nato russia", doc("Summit", categories=("NATO", "Russia")))
    assert not hit("nato russia", doc("NATO meets", "Allies respond"))


def test_phrase_needs_adjacent_words_in_order() -> None:
    assert hit('"climate summit"', doc("Leaders arrive for the climate summit"))
    assert hit('"climate summit"', doc("Climate-summit talks stall"))
    assert not hit('"climate summit"', doc("A summit on climate"))
    assert not hit('"climate summit"', doc("The climate change summit"))


def test_phrase_does_not_cross_fields() -> None:
    assert not hit('"climate summit"', doc("Rising climate", "Summit opens today"))
    assert not hit('"climate summit"', doc("News", categories=("Climate", "Summit")))
    assert hit('"climate summit"', doc("News", categories=("Climate Summit",)))
    assert hit("climate summit", doc("Rising climate", "Summit opens today"))


def test_or_takes_either_alternative() -> None:
    query = "nato russia OR china"
    assert hit(query, doc("China trade"))
    assert hit(query, doc("NATO and Russia"))
    assert not hit(query, doc("NATO alone"))


def test_exclusions_veto_the_whole_query() -> None:
    assert hit("football -transfer", doc("Football final tonight"))
    assert not hit("football -transfer", doc("Football", "Transfers heat up"))
    assert not hit("football OR rugby -transfer", doc("Rugby transfer news"))
    assert hit('football -"transfer window"', doc("Football transfer fee, window seat"))
    assert not hit('football -"transfer window"', doc("Football transfer window shuts"))


def test_chinese_phrase_matches_as_a_phrase() -> None:
    assert hit("中国经济", doc("今年中国经济增长放缓"))
    assert not hit("中国经济", doc("中国的经济"))


def test_repeated_word_phrase() -> None:
    assert hit('"ha ha"', doc("He said ha ha loudly"))
    assert hit('"ha ha"', doc("Ha, ha!"))
    assert not hit('"ha ha"', doc("ha, then later ha"))


# --- the index -------------------------------------------------------------------------


def test_index_matches_added_topics() -> None:
    index = TopicIndex()
    index.add(1, parse_query("kosovo"))
    index.add(2, parse_query("nato russia OR china"))
    index.add(3, parse_query('"climate summit" -postponed'))
    index.add(4, parse_query("football -transfer"))
    assert len(index) == 4
    assert 3 in index
    assert index.match(doc("Kosovo and China sign a deal")) == {1, 2}
    assert index.match(doc("The climate summit opens", "Football too")) == {3, 4}
    assert index.match(doc("The climate summit is postponed")) == set()
    assert index.match(doc("Nothing relevant")) == set()


def test_a_topic_matching_through_two_alternatives_is_reported_once() -> None:
    index = TopicIndex()
    index.add(7, parse_query('kosovo OR serbia OR "belgrade talks"'))
    assert index.match(doc("Kosovo and Serbia", "Belgrade talks resume")) == {7}


def test_remove_forgets_the_topic() -> None:
    index = TopicIndex()
    index.add(1, parse_query("kosovo"))
    index.add(2, parse_query("kosovo serbia"))
    index.remove(1)
    index.remove(1)  # already gone: nothing happens
    index.remove(99)
    assert len(index) == 1
    assert 1 not in index
    assert index.match(doc("Kosovo and Serbia")) == {2}
    index.remove(2)
    assert index.match(doc("Kosovo and Serbia")) == set()
    assert len(index) == 0


def test_adding_an_id_again_replaces_its_query() -> None:
    index = TopicIndex()
    index.add(1, parse_query("kosovo"))
    index.add(1, parse_query("serbia -kosovo"))
    assert len(index) == 1
    assert index.match(doc("Kosovo")) == set()
    assert index.match(doc("Serbia")) == {1}


def test_index_handles_every_kind_of_term() -> None:
    queries = {
        1: '"ha ha"',
        2: "ha",
        3: '"a b c" d',
        4: 'x -"a b c"',
        5: 'x -"a b"',
        6: "x -a",
        7: '"中国经济" OR 日本',
    }
    index = TopicIndex()
    for topic_id, raw in queries.items():
        index.add(topic_id, parse_query(raw))
    documents = [
        doc("ha ha", "a b c d"),
        doc("ha", "x a c b"),
        doc("x a b", "c d"),
        doc("x", "a b c"),
        doc("中国经济", "日本"),
        doc("中国的经济", "x"),
    ]
    for document in documents:
        expected = {i for i, raw in queries.items() if hit(raw, document)}
        assert index.match(document) == expected


# --- property: the index agrees with the reference matcher ------------------------------

_QUERY_WORDS = ["kosovo", "serbia", "nato", "russia", "sanction", "talks", "un", "zurich", "vote"]
_TEXT_WORDS = [
    "Kosovo",
    "Kosovo’s",
    "Serbia",
    "NATO",
    "Russia",
    "sanctions",
    "Sanction",
    "talks",
    "UN",
    "until",
    "fun",
    "Zürich",
    "vote",
    "votes",
    "the",
    "in",
]

_word = st.sampled_from(_QUERY_WORDS)
_term = st.one_of(
    _word, _word, st.lists(_word, min_size=2, max_size=3).map(lambda ws: '"' + " ".join(ws) + '"')
)
_alternative = st.lists(_term, min_size=1, max_size=3).map(" ".join)
_query_text = st.builds(
    lambda alts, excluded: " OR ".join(alts) + "".join(f" -{t}" for t in excluded),
    st.lists(_alternative, min_size=1, max_size=3),
    st.lists(_term, max_size=2),
)
_text = st.lists(st.sampled_from(_TEXT_WORDS), min_size=1, max_size=12).map(" ".join)
_document = st.builds(
    lambda title, summary, categories: doc(title, summary, tuple(categories)),
    _text,
    _text,
    st.lists(_text, max_size=3),
)


def test_index_agrees_with_brute_force() -> None:
    outcomes: Counter[bool] = Counter()

    @given(
        texts=st.lists(_query_text, min_size=1, max_size=15),
        documents=st.lists(_document, min_size=1, max_size=4),
        removed=st.lists(st.booleans(), min_size=15, max_size=15),
    )
    @settings(max_examples=200, deadline=None)
    def check(texts: list[str], documents: list[Document], removed: list[bool]) -> None:
        topics = {}
        for topic_id, text in enumerate(texts):
            try:
                topics[topic_id] = parse_query(text)
            except QueryError:
                continue  # too many terms, or excludes all it looks for
        index = TopicIndex()
        for topic_id, query in topics.items():
            index.add(topic_id, query)
        assert len(index) == len(topics)
        for document in documents:
            expected = {i for i, query in topics.items() if matches(query, document)}
            assert index.match(document) == expected
            outcomes.update(i in expected for i in topics)
        for topic_id in [i for i in topics if removed[i]]:
            index.remove(topic_id)
            del topics[topic_id]
        assert len(index) == len(topics)
        for document in documents:
            expected = {i for i, query in topics.items() if matches(query, document)}
            assert index.match(document) == expected

    check()
    total = outcomes[True] + outcomes[False]
    assert total > 500
    # The generators must exercise both sides, or agreement proves little.
    assert 0.1 < outcomes[True] / total < 0.9, outcomes


def test_index_agrees_through_interleaved_changes() -> None:
    """Adds, replacements and removals in any order: after each, index == brute force."""
    outcomes: Counter[bool] = Counter()
    # (topic id, query text), or (topic id, None) to remove it.
    change = st.tuples(st.integers(0, 6), st.one_of(st.none(), _query_text, _query_text))

    @given(
        changes=st.lists(change, min_size=1, max_size=25),
        documents=st.lists(_document, min_size=1, max_size=3),
    )
    @settings(max_examples=150, deadline=None)
    def check(changes: list[tuple[int, str | None]], documents: list[Document]) -> None:
        index = TopicIndex()
        topics: dict[int, Query] = {}
        for topic_id, text in changes:
            if text is None:
                index.remove(topic_id)
                topics.pop(topic_id, None)
            else:
                try:
                    query = parse_query(text)
                except QueryError:
                    continue
                index.add(topic_id, query)
                topics[topic_id] = query
            assert len(index) == len(topics)
            for document in documents:
                expected = {i for i, q in topics.items() if matches(q, document)}
                assert index.match(document) == expected
                outcomes.update(i in expected for i in topics)
        for topic_id in list(topics):
            index.remove(topic_id)
        # Nothing is left behind: every list and count went with its topics.
        assert len(index) == 0
        assert not (index._direct or index._checks or index._counts)

    check()
    total = outcomes[True] + outcomes[False]
    assert total > 500
    assert 0.1 < outcomes[True] / total < 0.9, outcomes


@pytest.mark.parametrize("seed", range(3))
def test_index_agrees_after_many_adds_and_removes(seed: int) -> None:
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(30)]
    index = TopicIndex()
    live: dict[int, str] = {}
    for step in range(400):
        if live and rng.random() < 0.3:
            topic_id = rng.choice(list(live))
            index.remove(topic_id)
            del live[topic_id]
            continue
        alternatives = [
            " ".join(rng.sample(words, rng.randint(1, 3))) for _ in range(rng.randint(1, 2))
        ]
        text = " OR ".join(alternatives)
        if rng.random() < 0.2:
            text += f" -{rng.choice(words)}"
        try:
            query = parse_query(text)
        except QueryError:
            continue
        index.add(step, query)
        live[step] = text
    document = doc(" ".join(rng.sample(words, 8)), " ".join(rng.sample(words, 8)))
    expected = {i for i, text in live.items() if hit(text, document)}
    assert index.match(document) == expected
    assert len(index) == len(live)

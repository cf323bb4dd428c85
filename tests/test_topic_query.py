"""Topic query parsing, canonical forms and the folding shared with entries."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.topics import MAX_QUERY_LENGTH, MAX_TERMS, QueryError, fold_tokens, parse_query

# --- folding ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Zürich", ["zurich"]),
        ("ZURICH zurich Zurich", ["zurich", "zurich", "zurich"]),
        ("Kosovo's", ["kosovo"]),
        ("Kosovo’s", ["kosovo"]),
        ("KOSOVOʼS", ["kosovo"]),
        ("the players' union", ["the", "player", "union"]),
        ("sanctions", ["sanction"]),
        ("policies", ["policy"]),
        ("countries skies", ["country", "sky"]),
        ("boxes churches wishes classes buzzes", ["box", "church", "wish", "class", "buzz"]),
        ("heroes vetoes", ["hero", "veto"]),
        ("movie movies", ["movy", "movy"]),
        ("prices horses", ["price", "horse"]),
        ("news", ["news"]),
        ("virus status crisis glass", ["virus", "status", "crisis", "glass"]),
        ("UN until fun", ["un", "until", "fun"]),
        ("Москва и Санкт-Петербург", ["москва", "и", "санкт", "петербург"]),
        ("Αθήνα", ["αθηνα"]),
        ("مُحَمَّد القاهرة", ["محمد", "القاهرة"]),
        ("中国经济", ["中", "国", "经", "济"]),
        ("東京の天気", ["東", "京", "の", "天", "気"]),
        ("ＮＡＴＯ ﬁnance", ["nato", "finance"]),
        ("COVID-19 in 2024", ["covid", "19", "in", "2024"]),
        ("snake_case", ["snake", "case"]),
        ("“Quoted” — dash… and\xa0space", ["quoted", "dash", "and", "space"]),
        ("Ⓐ", ["a"]),
        ("❤️ love", ["love"]),
        ("हिन्दी समाचार", ["हिन्दी", "समाचार"]),
    ],
)
def test_fold_tokens(text: str, tokens: list[str]) -> None:
    assert fold_tokens(text) == tokens


def test_plural_folding_agrees_on_both_sides() -> None:
    for singular, plural in [
        ("sanction", "sanctions"),
        ("policy", "policies"),
        ("tax", "taxes"),
        ("match", "matches"),
        ("election", "elections"),
        ("cookie", "cookies"),
        ("tomato", "tomatoes"),
        ("business", "businesses"),
    ]:
        assert fold_tokens(singular) == fold_tokens(plural), (singular, plural)


def test_short_and_non_english_words_keep_their_s() -> None:
    assert fold_tokens("us bus gas its") == ["us", "bus", "gas", "its"]
    assert fold_tokens("Paris Athens") == ["paris", "athen"]  # same on both sides
    assert fold_tokens("1990s") == ["1990s"]


@given(st.text(max_size=60))
@settings(max_examples=300, deadline=None)
def test_folding_is_idempotent(text: str) -> None:
    tokens = fold_tokens(text)
    assert fold_tokens(" ".join(tokens)) == tokens
    assert all(tokens)


# --- query forms -----------------------------------------------------------------------


def test_single_word() -> None:
    query = parse_query("Kosovo")
    assert query.alternatives == ((("kosovo",),),)
    assert query.exclusions == ()
    assert query.canonical == "kosovo"
    assert query.display == "kosovo"


def test_words_are_anded() -> None:
    query = parse_query("nato russia")
    assert query.alternatives == ((("nato",), ("russia",)),)


def test_quoted_phrase() -> None:
    query = parse_query('"United Nations" talks')
    assert query.alternatives == ((("talk",), ("united", "nation")),)
    assert query.display == 'talks "united nations"'


def test_typographic_quotes_make_phrases() -> None:
    for raw in ("“climate summit”", "„climate summit“", "«climate summit»"):
        assert parse_query(raw).alternatives == ((("climate", "summit"),),)


def test_one_word_in_quotes_is_a_word() -> None:
    assert parse_query('"kosovo"').canonical == "kosovo"


def test_or_binds_looser_than_and() -> None:
    query = parse_query("nato russia OR china")
    assert set(query.alternatives) == {(("nato",), ("russia",)), (("china",),)}
    assert query.canonical == "china OR nato russia"


def test_uppercase_and_is_the_implicit_and() -> None:
    assert parse_query("nato AND russia").canonical == "nato russia"
    assert parse_query("rock and roll").canonical == "and rock roll"


def test_or_in_any_case_separates_alternatives() -> None:
    # As the help and README say: "kosovo or serbia" is the same topic as "Kosovo OR Serbia".
    assert parse_query("kosovo or serbia") == parse_query("Serbia OR Kosovo")
    assert parse_query("kosovo or serbia").display == "kosovo OR serbia"
    assert parse_query("nato Or russia oR china").canonical == "china OR nato OR russia"


def test_the_word_or_is_quoted() -> None:
    query = parse_query('rock "or" roll')
    assert query.alternatives == ((("or",), ("rock",), ("roll",)),)
    assert query.display == '"or" rock roll'
    assert parse_query(query.display) == query
    assert parse_query('gold -"or"').display == 'gold -"or"'


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("gold or", ["Nothing follows OR", 'quote it: "or"']),
        ("or gold", ["Nothing comes before OR", 'quote it: "or"']),
        ("gold or OR silver", ["twice in a row", 'quote it: "or"']),
    ],
)
def test_a_stray_lowercase_or_gets_a_hint(raw: str, words: list[str]) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(raw)
    for word in words:
        assert word in str(caught.value)


def test_or_inside_a_phrase_is_a_word() -> None:
    assert parse_query('"rock OR roll"').alternatives == ((("rock", "or", "roll"),),)


def test_exclusions_apply_to_the_whole_query() -> None:
    query = parse_query('football -transfer OR rugby -"world cup"')
    assert query.alternatives == ((("football",),), (("rugby",),))
    assert query.exclusions == (("transfer",), ("world", "cup"))
    assert query.display == 'football OR rugby -transfer -"world cup"'


def test_hyphenated_word_is_a_phrase() -> None:
    query = parse_query("COVID-19")
    assert query.alternatives == ((("covid", "19"),),)
    assert query.display == '"covid 19"'


def test_chinese_word_is_a_phrase() -> None:
    query = parse_query("中国经济")
    assert query.alternatives == ((("中", "国", "经", "济"),),)
    assert query.display == '"中国经济"'


def test_lone_punctuation_is_ignored() -> None:
    assert parse_query("Marks & Spencer").canonical == "mark spencer"
    assert parse_query("kosovo - serbia").canonical == "kosovo serbia"


# --- canonical form --------------------------------------------------------------------


@pytest.mark.parametrize(
    "variants",
    [
        ["Kosovo", " kosovo ", "KOSOVO", "kosovo's", '"Kosovo"'],
        ["nato russia", "russia nato", "NATO  Russia", "nato russia nato"],
        ["kosovo OR serbia", "serbia OR kosovo", "Serbia OR KOSOVO OR serbia"],
        ["sanction", "sanctions", "sanctions sanction"],
        ["zurich", "Zürich", "ZÜRICH"],
        ["football -transfer", "-transfer football", "football -transfers -transfer"],
        ['"climate summit" climate', '"climate summit"', "“Climate Summit”"],
        ["a OR a b", "a"],
        ['kosovo -x -"x y"', "kosovo -x"],
    ],
)
def test_same_topic_written_differently(variants: list[str]) -> None:
    canonicals = {parse_query(v).canonical for v in variants}
    assert len(canonicals) == 1, canonicals


def test_different_topics_differ() -> None:
    canonicals = [
        parse_query(q).canonical
        for q in [
            "nato russia",
            "nato OR russia",
            '"nato russia"',
            '"russia nato"',
            "nato -russia",
            "nato",
        ]
    ]
    assert len(set(canonicals)) == len(canonicals)


def test_queries_with_the_same_canonical_are_equal() -> None:
    assert parse_query("Sanctions") == parse_query("sanction")
    assert hash(parse_query("Sanctions")) == hash(parse_query("sanction"))


def test_dead_alternatives_are_dropped() -> None:
    assert parse_query("kosovo -kosovo OR serbia").canonical == "serbia -kosovo"


@pytest.mark.parametrize(
    "raw",
    [
        "kosovo",
        "nato russia OR china",
        'football -transfer -"world cup" OR "champions league"',
        "Zürich's banks",
        "中国经济 OR 日本",
        "Москва OR Київ",
        "ﷺ",
        "covid-19 O'Brien",
        "rock or roll",
    ],
)
def test_display_round_trips(raw: str) -> None:
    query = parse_query(raw)
    again = parse_query(query.display)
    assert again.canonical == query.canonical
    assert again.display == query.display
    assert parse_query(query.canonical).canonical == query.canonical


_QUERY_ALPHABET = st.sampled_from(
    [*"abcdeéü ", '"', "“", "-", "'", "’", " OR ", " or ", "中", "я", "ﬁ", "_", "&", "s"]
)


@given(st.lists(_QUERY_ALPHABET, max_size=40).map("".join))
@settings(max_examples=400, deadline=None)
def test_any_accepted_query_round_trips(raw: str) -> None:
    try:
        query = parse_query(raw)
    except QueryError as error:
        assert str(error)
        return
    assert parse_query(query.display).canonical == query.canonical
    assert parse_query(query.canonical).canonical == query.canonical
    assert len(query.canonical) <= len(query.display) <= MAX_QUERY_LENGTH


# --- refusals --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ("", ["empty"]),
        ("   ", ["empty"]),
        ("x" * (MAX_QUERY_LENGTH + 1), ["too long", "201", "200"]),
        ("!!! ???", ["no letters or digits"]),
        ("-", ["no letters or digits"]),
        ("AND", ["besides AND"]),
        ('"kosovo', ["not closed"]),
        ('kosovo "serbia', ["not closed"]),
        ("-transfer", ["only excludes"]),
        ('-transfer -"world cup"', ["only excludes"]),
        (" ".join(f"w{i}" for i in range(MAX_TERMS + 1)), ["11 terms", "at most 10"]),
        ("a b c d e f g h -i -j -k", ["11 terms"]),
        ("OR kosovo", ["before OR"]),
        ("kosovo OR", ["follows OR"]),
        ("kosovo OR -serbia", ["follows OR"]),
        ("a OR OR b", ["twice in a row"]),
        ('""', ["holds no words"]),
        ('kosovo ""', ["holds no words"]),
        ('kosovo "!?"', ["holds no words"]),
        ("kosovo -kosovo", ["excludes everything"]),
        ('"kosovo serbia" -kosovo', ["excludes everything"]),
    ],
)
def test_refusals_say_what_is_wrong(raw: str, words: list[str]) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(raw)
    message = str(caught.value)
    for word in words:
        assert word in message
    assert len(message) < 120
    assert message.endswith(".")


def test_refusal_messages_are_distinct() -> None:
    raws = ["", "x" * 300, "!!!", '"a', "-a", "a " * 11, "OR a", "a OR", "a OR OR b", '""']
    messages = set()
    for raw in raws:
        with pytest.raises(QueryError) as caught:
            parse_query(raw)
        messages.add(str(caught.value))
    assert len(messages) == len(raws)


def test_query_error_is_a_value_error() -> None:
    assert issubclass(QueryError, ValueError)


def test_the_length_limit_is_inclusive() -> None:
    assert parse_query("k" * MAX_QUERY_LENGTH).canonical == "k" * MAX_QUERY_LENGTH
    assert parse_query(f"  {'k' * MAX_QUERY_LENGTH}  ").canonical == "k" * MAX_QUERY_LENGTH


def test_display_that_would_grow_past_the_limit_is_refused() -> None:
    # One ligature character folds into many letters.
    with pytest.raises(QueryError, match="too long"):
        parse_query("ﷺ" * 20)

"""Tokens that reports of one event share whatever their spelling, script and habits."""

from __future__ import annotations

import unicodedata

from bot.stories.text import tokenize, tokens


def test_case_accents_and_apostrophes_fold_alike() -> None:
    assert tokenize("Grève générale à Lyon") == tokenize("GREVE GENERALE A LYON")
    assert tokenize("Zürich’s mayor") == tokenize("Zurich's Mayor") == ["zurich", "mayor"]
    assert tokenize("Αθήνα") == tokenize("ΑΘΗΝΑ")


def test_plurals_possessives_and_verb_endings_meet() -> None:
    for spellings in (
        ("rejects", "rejected", "rejecting", "reject"),
        ("nominees", "nominee", "nominee's"),
        ("stopped", "stopping", "stops"),
        ("prices", "price"),
    ):
        assert len({tuple(tokenize(s)) for s in spellings}) == 1, spellings
    assert tokenize("news") == ["news"]  # not the plural of a stopword


def test_numbers_are_written_one_way() -> None:
    assert tokenize("150,000 jobs") == tokenize("150000 jobs") == ["150000", "job"]
    assert tokenize("$4 billion deal") == tokenize("$4bn deal") == ["4bn", "deal"]
    assert tokenize("up 2.5% to 1.6m") == ["2.5%", "1.6m"]
    assert tokenize("магнитудой 6,1") == tokenize("МАГНИТУДОЙ 6.1")
    assert tokenize("6,1 балла")[0] == "6.1"
    assert tokenize("U.S. and E.U. talks") == ["us", "eu", "talk"]


def test_dates_and_stopwords_are_left_out() -> None:
    assert tokenize("Stock market news for March 10, 2014") == ["stock", "market", "news"]
    assert tokenize("Energy report 3/10/14") == ["energy", "report"]
    assert tokenize("Marathon 26 miles") == ["marathon", "26", "mile"]
    assert tokenize("The mayor of the city says it will rain") == ["mayor", "city", "rain"]


def test_unspaced_scripts_become_character_pairs() -> None:
    assert tokenize("江南省地震") == ["江南", "南省", "省地", "地震"]
    assert tokenize("東京") == ["東京"]
    assert tokenize("地") == ["地"]
    # Thai vowel marks stay on their letter (no pair starts with one); tone marks are
    # left out like accents.
    thai = tokenize("เชียงใหม่")
    assert thai == ["เชี", "ชีย", "ยง", "งใ", "ให", "หม"]
    assert all(unicodedata.category(pair[0])[0] != "M" for pair in thai)
    # A number inside such a run stays a number.
    assert tokenize("北海道で震度5強") == ["北海", "海道", "道て", "て震", "震度", "5", "強"]


def test_other_scripts_keep_their_words() -> None:
    assert tokenize("Путин заявил о санкциях") == ["путин", "заявил", "о", "санкциях"]
    assert tokenize("भारत में चुनाव") == ["भारत", "में", "चुनाव"]


def test_tokens_split_title_and_summary_words_and_bind_names() -> None:
    found = tokens(
        "Brightwater Motors recalls trucks",
        "Brightwater Motors is recalling 40,000 trucks over a brake fault. More to come.",
        summary_words=4,
    )
    assert found.title == {"brightwat", "motor", "recall", "truck"}
    # The summary's first four tokens, less what the title already has.
    assert found.summary == {"40000"}
    assert found.pairs == {("brightwat", "motor")}
    assert tokens("brightwater motors recall").pairs == frozenset()
    assert tokens("A title", "ignored summary").summary == frozenset()


def test_huge_texts_are_cut_not_read_whole() -> None:
    title = "word " * 100_000
    assert tokens(title).title == {"word"}
    found = tokens("Short title", "summary " + "filler " * 100_000, summary_words=3)
    assert found.summary == {"summary", "fill"}

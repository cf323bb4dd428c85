"""The topic catalog: built-in topics, TOPICS_FILE parsing and the plan applied at start."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.topics import MAX_TERMS, Document, matches, parse_query
from bot.topics.catalog import (
    DEFAULT_CATALOG,
    MAX_CATALOG_TOPICS,
    CatalogError,
    check_name,
    find_entry,
    load_catalog_file,
    make_entry,
    parse_catalog_text,
    plan_catalog,
)

YAML_FILE = """\
# The newsroom's own topics.
include_defaults: false
topics:
  - name: Climate
    query: climate OR "global warming" OR emissions
  - name: Football
    query: football OR soccer -"american football"
    categories: [Premier League, Serie A]
  - name: Elections
    categories: Elections
"""

TOML_FILE = """\
include_defaults = true

[[topics]]
name = "Sports"
query = "sport OR hockey"

[[topics]]
name = "Climate"
query = 'climate OR "global warming"'
"""


def test_the_builtin_catalog() -> None:
    names = [e.name for e in DEFAULT_CATALOG]
    assert names == [
        "World",
        "Politics",
        "Business",
        "Technology",
        "Science",
        "Health",
        "Sports",
        "Entertainment",
    ]
    for item in DEFAULT_CATALOG:
        terms = sum(len(alt) for alt in item.query.alternatives) + len(item.query.exclusions)
        assert terms <= MAX_TERMS
        # The stored query parses back to the same topic.
        assert parse_query(item.query.display).canonical == item.query.canonical
    cases = {
        "Sports": ("Rovers win the cup", "", ["Sport"]),
        "World": ("Ceasefire talks resume", "", []),
        "Technology": ("Start-up releases an AI model", "", []),
        "Health": ("Clinics stay open late", "Fewer patients wait in emergency rooms.", []),
        "Entertainment": ("Drama wins the film festival", "", []),
        "Business": ("Central bank holds rates", "", []),
    }
    for name, (title, summary, categories) in cases.items():
        found = find_entry(DEFAULT_CATALOG, name.lower())
        assert found is not None
        doc = Document.from_fields(title=title, summary=summary, categories=categories)
        assert matches(found.query, doc), name
    world = find_entry(DEFAULT_CATALOG, "world")
    assert world is not None
    assert not matches(world.query, Document.from_fields(title="World Cup draw made in Saro"))


def test_names_are_one_word() -> None:
    assert check_name("  Sci-Tech ") == "Sci-Tech"
    assert check_name("Économie") == "Économie"
    for bad, reason in {
        "": "no name",
        "Two words": "one word",
        "9lives": "starts with a letter",
        "<b>": "one word",
        "x" * 33: "33 characters",
    }.items():
        with pytest.raises(CatalogError, match=reason):
            check_name(bad)


def test_categories_become_phrase_alternatives() -> None:
    item = make_entry("Football", "football", ["Premier League", "Serie A"])
    assert item.query.display == 'football OR "premier league" OR "serie a"'
    doc = Document.from_fields(title="Late goal settles the derby", categories=["Premier League"])
    assert matches(item.query, doc)
    assert make_entry("Elections", "", ["Elections"]).query.canonical == "election"
    with pytest.raises(CatalogError, match="query, categories or both"):
        make_entry("Empty", "")
    with pytest.raises(CatalogError, match="quote mark"):
        make_entry("Odd", "x", ['say "hi"'])
    many = " OR ".join(f"w{n}" for n in range(MAX_TERMS))
    with pytest.raises(CatalogError, match="The topic has 11 terms"):
        make_entry("Football", many, ["Serie A"])


def test_yaml_file() -> None:
    source = parse_catalog_text(YAML_FILE, fmt="yaml")
    assert not source.include_defaults
    assert [e.name for e in source.entries] == ["Climate", "Football", "Elections"]
    assert source.entries[1].query.display == (
        'football OR "premier league" OR "serie a" OR soccer -"american football"'
    )
    plan = plan_catalog(source)
    assert plan.replace and plan.entries == source.entries


def test_toml_file_extends_the_builtin_catalog() -> None:
    source = parse_catalog_text(TOML_FILE, fmt="toml")
    assert source.include_defaults
    plan = plan_catalog(source)
    assert plan.replace
    names = [e.name for e in plan.entries]
    # A topic of the file replaces the built-in one of that name, in its place.
    assert names == [*(e.name for e in DEFAULT_CATALOG), "Climate"]
    sports = find_entry(plan.entries, "SPORTS")
    assert sports is not None and sports.query.display == "hockey OR sport"


def test_without_a_file_the_builtin_topics_are_seeded() -> None:
    plan = plan_catalog(None)
    assert not plan.replace and plan.entries == DEFAULT_CATALOG


@pytest.mark.parametrize(
    ("text", "fmt", "needle"),
    [
        ("topics: [\n  - name: x\n", "yaml", "not valid YAML at line"),
        ("topics = [", "toml", "not valid TOML"),
        ("- a\n- b\n", "yaml", "expected `topics:`"),
        ("topic:\n  - name: A\n    query: a\n", "yaml", "unknown key 'topic'"),
        ("topics:\n  - query: a\n", "yaml", r"topics\[1\]: name is missing"),
        ("topics:\n  - name: A\n    qurey: a\n", "yaml", "unknown key 'qurey'"),
        ("topics:\n  - name: 12\n    query: a\n", "yaml", "name must be text"),
        (
            "topics:\n  - name: A\n    query: a OR\n",
            "yaml",
            r"topics\[1\] \(A\): Nothing follows OR",
        ),
        ("topics:\n  - A\n", "yaml", "must be a table"),
        ("include_defaults: maybe\ntopics: []\n", "yaml", "true or false"),
        ("topics:\n  - {name: A, query: a}\n  - {name: a, query: b}\n", "yaml", "appears twice"),
        ("topics:\n  - {name: A, query: x y}\n  - {name: B, query: y x}\n", "yaml", "same query"),
        ("topics:\n  - {name: A, query: a, categories: 3}\n", "yaml", "list of text"),
    ],
)
def test_file_problems_are_named(text: str, fmt: str, needle: str) -> None:
    with pytest.raises(CatalogError, match=needle):
        parse_catalog_text(text, fmt=fmt)


def test_too_many_topics() -> None:
    lines = ["topics:"]
    lines += [f"  - {{name: T{n}, query: word{n}}}" for n in range(MAX_CATALOG_TOPICS + 1)]
    with pytest.raises(CatalogError, match="too many"):
        parse_catalog_text("\n".join(lines), fmt="yaml")


def test_loading_names_the_file(tmp_path: Path) -> None:
    good = tmp_path / "topics.yml"
    good.write_text(YAML_FILE)
    assert len(load_catalog_file(good).entries) == 3
    toml = tmp_path / "topics.TOML"
    toml.write_text(TOML_FILE)
    assert load_catalog_file(toml).include_defaults
    missing = tmp_path / "nowhere.yaml"
    with pytest.raises(CatalogError, match=f"{missing}: cannot read it"):
        load_catalog_file(missing)
    other = tmp_path / "topics.json"
    other.write_text("{}")
    with pytest.raises(CatalogError, match=r"must end in \.yaml, \.yml or \.toml"):
        load_catalog_file(other)
    bad = tmp_path / "bad.yaml"
    bad.write_text("topics:\n  - name: A\n    query: '\"open'\n")
    with pytest.raises(CatalogError, match=f"{bad}: topics\\[1\\] \\(A\\): A quote"):
        load_catalog_file(bad)
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(CatalogError, match="not UTF-8"):
        load_catalog_file(binary)


def test_a_file_topic_may_not_repeat_a_builtin_query() -> None:
    world = find_entry(DEFAULT_CATALOG, "World")
    assert world is not None
    text = (
        f"include_defaults: true\ntopics:\n  - name: Abroad\n    query: '{world.query.display}'\n"
    )
    source = parse_catalog_text(text, fmt="yaml")
    with pytest.raises(CatalogError, match="Abroad and World have the same query"):
        plan_catalog(source)

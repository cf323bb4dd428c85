"""Measure topic matching against many distinct topics, and the cost of a topic change.

Build an index of random distinct topics over a Zipf-distributed vocabulary, match
random entries of news-like length, and print build time, entries matched per second
(Document preparation included), mean matches per entry and peak RSS. A sample of
entries is checked against the brute-force matcher.

Then add and remove topics one at a time: in the index alone, and as the bot does it,
through a SQLite database holding every topic (a chat subscribes to a new topic, the
watcher's topic cache catches up from the change log), next to the full rebuild that
every change used to cost.

    python bench/matching.py [--topics 100000] [--entries 10000] [--check 30] [--seed 7]
                             [--changes 200] [--no-database]
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

if TYPE_CHECKING:
    from sqlmodel import Session

from bot.db import chats as chats_db
from bot.db import subscriptions
from bot.topics import (
    Document,
    Query,
    QueryError,
    TopicIndex,
    fold_tokens,
    matches,
    parse_query,
)

ONSETS = ["", "b", "br", "c", "ch", "d", "dr", "f", "g", "gr", "h", "k", "l", "m", "n", "p"]
ONSETS += ["pr", "r", "s", "sh", "st", "t", "tr", "v", "w", "z", "kr", "pl", "sl", "th"]
VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "ou", "io"]
ACCENTED = {"a": "á", "e": "é", "i": "í", "o": "ö", "u": "ü"}
CODAS = ["", "", "", "n", "r", "l", "s", "t", "m", "nd", "rk", "st", "ng", "x"]


@dataclass(frozen=True, slots=True)
class Entry:
    """A generated entry as a feed would give it."""

    title: str
    summary: str
    categories: tuple[str, ...]


class Corpus:
    """Draw words, collocations and entries from one Zipf-like vocabulary."""

    def __init__(self, *, rng: random.Random, vocabulary: int) -> None:
        self.rng = rng
        self.words = self._vocabulary(vocabulary)
        # Zipf (s = 1) over ranks: common words dominate, most words are rare.
        self.cum = list(accumulate(1.0 / rank for rank in range(1, vocabulary + 1)))
        # Topics name people, places and things, not function words: draw them past
        # the 200 commonest words, from a flatter distribution than the text's.
        self.topic_words = self.words[200:]
        self.topic_cum = list(
            accumulate(1.0 / (rank + 200) ** 0.5 for rank in range(len(self.topic_words)))
        )
        # Names and fixed expressions that recur across entries and topics.
        self.collocations = [
            " ".join(self.topic_word() for _ in range(rng.choice((2, 2, 2, 3))))
            for _ in range(4000)
        ]
        self.colloc_cum = list(accumulate(1.0 / (rank + 100) for rank in range(4000)))

    def _vocabulary(self, size: int) -> list[str]:
        """Make pronounceable words, shorter for more common ranks."""
        seen: set[str] = set()
        words: list[str] = []
        while len(words) < size:
            rank = len(words) + 1
            syllables = 1 + min(3, int(rank**0.25 / 2.2)) + (self.rng.random() < 0.3)
            word = "".join(
                self.rng.choice(ONSETS) + self.rng.choice(VOWELS) for _ in range(syllables)
            ) + self.rng.choice(CODAS)
            if self.rng.random() < 0.02:
                # A few names keep their accents (Zürich, Pérez).
                word = "".join(ACCENTED.get(c, c) if i == 1 else c for i, c in enumerate(word))
            if word not in seen:
                seen.add(word)
                words.append(word)
        return words

    def text_words(self, k: int) -> list[str]:
        return self.rng.choices(self.words, cum_weights=self.cum, k=k)

    def topic_word(self) -> str:
        return self.rng.choices(self.topic_words, cum_weights=self.topic_cum)[0]

    def collocation(self) -> str:
        return self.rng.choices(self.collocations, cum_weights=self.colloc_cum)[0]

    def sentence(self, k: int) -> str:
        """Write k words with some names, plurals, possessives and typographic marks."""
        rng = self.rng
        words = self.text_words(k)
        for _ in range(rng.randint(0, 2)):
            words.insert(rng.randrange(len(words) + 1), self.collocation().title())
        out = []
        for word in words:
            roll = rng.random()
            if roll < 0.06:
                word += "s"
            elif roll < 0.08:
                word += rng.choice(("'s", "’s"))
            elif roll < 0.10:
                word += ","
            elif roll < 0.11:
                word = f"“{word}”"
            out.append(word)
        return " ".join(out)

    def entry(self) -> Entry:
        rng = self.rng
        title = self.sentence(rng.randint(6, 12)).title()
        if rng.random() < 0.3:
            title += " — " + self.collocation().title()
        parts = []
        remaining = rng.randint(40, 80)
        while remaining > 0:
            size = min(remaining, rng.randint(8, 22))
            sentence = self.sentence(size)
            parts.append(sentence[0].upper() + sentence[1:] + ".")
            remaining -= size
        categories = tuple(
            " ".join(self.topic_word() for _ in range(rng.choice((1, 1, 2)))).title()
            for _ in range(rng.randint(2, 3))
        )
        return Entry(title=title, summary=" ".join(parts), categories=categories)

    def _alternative(self) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.45:
            return self.topic_word()
        if roll < 0.8:
            return " ".join(self.topic_word() for _ in range(rng.choice((2, 2, 3))))
        phrase = f'"{self.collocation()}"'
        return phrase if rng.random() < 0.7 else f"{phrase} {self.topic_word()}"

    def query_text(self) -> str:
        """Write a query the way users might: mostly words, some phrases, ORs, exclusions."""
        rng = self.rng
        count = 1 if rng.random() < 0.85 else rng.choice((2, 2, 3))
        text = " OR ".join(self._alternative() for _ in range(count))
        if rng.random() < 0.1:
            text += " " + " ".join(f"-{self.topic_word()}" for _ in range(rng.choice((1, 1, 2))))
        return text.upper() if rng.random() < 0.05 else text


def distinct_topics(corpus: Corpus, count: int, seen: set[str] | None = None) -> list[str]:
    """Generate query texts until count distinct topics parse (none of them in `seen`)."""
    seen = set() if seen is None else seen
    texts: list[str] = []
    while len(texts) < count:
        text = corpus.query_text()
        try:
            canonical = parse_query(text).canonical
        except QueryError:
            continue
        if canonical not in seen:
            seen.add(canonical)
            texts.append(text)
    return texts


def describe(queries: list[Query]) -> str:
    """Summarize the mix of query shapes."""
    shapes = {"one word": 0, "AND": 0, "phrase": 0, "OR": 0, "exclusion": 0}
    for query in queries:
        alternatives = query.alternatives
        shapes["one word"] += (
            alternatives == ((alternatives[0][0],),) and len(alternatives[0][0]) == 1
        )
        shapes["AND"] += any(len(alt) > 1 for alt in alternatives)
        shapes["phrase"] += any(len(term) > 1 for alt in alternatives for term in alt)
        shapes["OR"] += len(alternatives) > 1
        shapes["exclusion"] += bool(query.exclusions)
    return ", ".join(f"{name} {100 * n / len(queries):.0f}%" for name, n in shapes.items())


class Timer:
    """Measure wall-clock and CPU time of a block; CPU time ignores other processes."""

    def __enter__(self) -> Timer:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu

    def __str__(self) -> str:
        return f"{self.cpu:.2f} s CPU, {self.wall:.2f} s wall"


def peak_rss_mb() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--topics", type=int, default=100_000)
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--vocabulary", type=int, default=40_000)
    parser.add_argument("--check", type=int, default=30, help="entries checked by brute force")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--changes", type=int, default=200, help="topics added, then removed")
    parser.add_argument("--no-database", action="store_true", help="skip the database part")
    args = parser.parse_args()

    corpus = Corpus(rng=random.Random(args.seed), vocabulary=args.vocabulary)
    texts = distinct_topics(corpus, args.topics)
    entries = [corpus.entry() for _ in range(args.entries)]
    words = sum(
        len(fold_tokens(f"{e.title} {e.summary} {' '.join(e.categories)}")) for e in entries
    )
    print(
        f"generated {len(texts):,} distinct topics and {len(entries):,} entries "
        f"({words / len(entries):.0f} words each on average)"
    )
    print(f"peak RSS before parsing and indexing: {peak_rss_mb():.1f} MB")

    with Timer() as parsing:
        queries: list[Query] = [parse_query(text) for text in texts]
    rss_parsed = peak_rss_mb()
    index = TopicIndex()
    with Timer() as building:
        for topic_id, query in enumerate(queries):
            index.add(topic_id, query)
    print(f"topic shapes: {describe(queries)}")
    print(f"parse {len(queries):,} queries: {parsing}; peak RSS {rss_parsed:.1f} MB")
    print(f"index build ({len(index):,} topics): {building}; peak RSS {peak_rss_mb():.1f} MB")

    with Timer() as preparing:
        for e in entries:
            Document.from_fields(title=e.title, summary=e.summary, categories=e.categories)
    total = 0
    with Timer() as matching:
        for e in entries:
            doc = Document.from_fields(title=e.title, summary=e.summary, categories=e.categories)
            total += len(index.match(doc))
    count = len(entries)
    print(f"document preparation alone: {count / preparing.cpu:,.0f} entries/s CPU")
    print(
        f"prepare + match: {count / matching.cpu:,.0f} entries/s on one core by CPU time, "
        f"{count / matching.wall:,.0f} by wall clock ({matching})"
    )
    print(f"mean matches per entry: {total / count:.2f}")

    sample = [
        Document.from_fields(title=e.title, summary=e.summary, categories=e.categories)
        for e in entries[: args.check]
    ]
    disagreements = 0
    with Timer() as checking:
        for doc in sample:
            expected = {i for i, query in enumerate(queries) if matches(query, doc)}
            disagreements += index.match(doc) != expected
    print(f"brute-force check on {len(sample)} entries: {disagreements} disagreements ({checking})")
    rate, rss = count / matching.cpu, peak_rss_mb()
    print(f"peak RSS: {rss:.1f} MB")
    verdict = "met" if rate >= 2000 and rss < 200 else "NOT met"
    print(f"targets (>= 2,000 entries/s on one core, peak RSS < 200 MB): {verdict}")

    extra = distinct_topics(corpus, args.changes, {q.canonical for q in queries})
    index_changes(index, extra, first_id=len(queries))
    disagreements += changes_keep_matching(index, queries, sample)
    if not args.no_database:
        database_changes(texts, extra)
    if disagreements:
        sys.exit(1)


def percentiles(ms: list[float]) -> str:
    """Describe per-change times: mean, 95th percentile and worst, in milliseconds."""
    p95 = percentile(ms, 0.95)
    return f"mean {sum(ms) / len(ms):.3f} ms, p95 {p95:.3f} ms, max {max(ms):.3f} ms"


def index_changes(index: TopicIndex, texts: list[str], *, first_id: int) -> None:
    """Time adding topics one at a time to the full index (parse included), then removing them."""
    added: list[float] = []
    for n, text in enumerate(texts):
        started = time.process_time()
        index.add(first_id + n, parse_query(text))
        added.append((time.process_time() - started) * 1000)
    removed: list[float] = []
    for n in range(len(texts)):
        started = time.process_time()
        index.remove(first_id + n)
        removed.append((time.process_time() - started) * 1000)
    print(f"index alone, {len(texts)} topics added one at a time: {percentiles(added)} (CPU)")
    print(f"index alone, the same removed one at a time: {percentiles(removed)} (CPU)")


def changes_keep_matching(index: TopicIndex, queries: list[Query], docs: list[Document]) -> int:
    """Check the index still agrees with brute force after the changes; return disagreements."""
    wrong = sum(
        index.match(doc) != {i for i, query in enumerate(queries) if matches(query, doc)}
        for doc in docs
    )
    print(f"after the changes, brute-force check on {len(docs)} entries: {wrong} disagreements")
    return wrong


def database_changes(texts: list[str], extra: list[str]) -> None:
    """Time topic changes as the bot makes them, on SQLite holding every topic."""
    import tempfile

    import sqlalchemy as sa

    from bot.db import migrate
    from bot.db.engine import make_engine, session_scope
    from bot.db.models import Topic
    from bot.ingest.topic_cache import TopicCache, _build_index

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/bench.db")
        migrate.upgrade(engine)
        rows = []
        for text in texts:
            query = parse_query(text)
            rows.append({"canonical": query.canonical, "display": query.display})
        with session_scope(engine) as session:
            session.execute(sa.insert(Topic), rows)
        cache = TopicCache()
        with Timer() as building:
            cache.refresh(engine)
        print(f"database: {len(rows):,} topics stored; the cache's first build: {building}")
        with Timer() as rebuilding, session_scope(engine) as session:
            _build_index(session)
        print(f"full rebuild from the database (what every topic change cost before): {rebuilding}")

        writes: list[float] = []
        catch_ups: list[float] = []

        def change(work: Callable[[Session], object]) -> None:
            started = time.perf_counter()
            with session_scope(engine) as session:
                work(session)
            writes.append((time.perf_counter() - started) * 1000)
            started = time.process_time()
            with session_scope(engine) as session:
                cache.match_all(session=session, docs=[])
            catch_ups.append((time.process_time() - started) * 1000)

        queries = [parse_query(text) for text in extra]
        with session_scope(engine) as session:
            chats_db.ensure_chat(session=session, chat_id=1, chat_type="private", title=None)
        for n, query in enumerate(queries):
            chat = 1 + n // subscriptions.MAX_TOPICS_PER_CHAT
            change(
                lambda s, q=query, c=chat: (
                    chats_db.ensure_chat(session=s, chat_id=c, chat_type="private", title=None),
                    subscriptions.subscribe(
                        session=s, chat_id=c, canonical=q.canonical, display=q.display
                    ),
                )
            )
        added_writes, added = writes[:], catch_ups[:]
        writes.clear()
        catch_ups.clear()
        for n, query in enumerate(queries):
            chat = 1 + n // subscriptions.MAX_TOPICS_PER_CHAT
            change(
                lambda s, q=query, c=chat: subscriptions.unsubscribe(
                    session=s, chat_id=c, canonical=q.canonical
                )
            )
        print(
            f"a chat subscribes to a new topic, {len(queries)} times: the write "
            f"{percentiles(added_writes)} (wall); the cache catching up {percentiles(added)} (CPU)"
        )
        print(
            f"its last chat leaves it, {len(queries)} times: the write {percentiles(writes)} "
            f"(wall); the cache catching up {percentiles(catch_ups)} (CPU)"
        )
        print(f"index builds during the changes: {cache.builds - 1} (0: every change incremental)")
        worst = max(percentile(added, 0.95), percentile(catch_ups, 0.95))
        verdict = "met" if worst <= 5 else "NOT met"
        print(
            f"target (<= 5 ms per change at {len(rows):,} topics, p95 of the catch-up): {verdict}"
        )
        print(f"peak RSS: {peak_rss_mb():.1f} MB")
        engine.dispose()


def percentile(ms: list[float], share: float) -> float:
    ordered = sorted(ms)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


if __name__ == "__main__":
    main()

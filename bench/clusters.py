"""Score story grouping against an aggregator's grouping, and measure its speed and memory.

Usage: python bench/clusters.py [PATH_TO_CSV] [--stories 10000] [--skip-synthetic]

The CSV (default ../shared/data/news-stories-dev.csv from the repository root) has the
columns id, title, source, published (ISO 8601) and story. Pairs of headlines published
within 6 hours of each other are scored: precision is the share of pairs put together
that the aggregator also put together, recall the share of the aggregator's pairs put
together. The engine is compared with two plain online TF-IDF groupings (threshold 0.15).

Held-out figures: the headlines are cut in two halves, by time range and by aggregator
story (alternately); the threshold is chosen on one half (highest recall with precision
at least 0.97, the 0.95 target plus a margin for unseen data) and scored on the other,
each half run on its own. A synthetic stream then measures speed and memory with about
--stories open stories, from invented words (no data).
"""

from __future__ import annotations

import argparse
import csv
import math
import pickle
import random
import re
import sys
import time
import tracemalloc
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.stories import Clusterer, Params, Report  # noqa: E402

DEFAULT_CSV = ROOT.parent / "shared" / "data" / "news-stories-dev.csv"
PAIR_HOURS = 6
BASELINE_THRESHOLD = 0.15
# Tuning for exactly the 0.95 target puts the threshold where precision falls fast; the
# margin keeps the held-out half above the target.
TUNING_PRECISION = 0.97
GRID = [round(0.08 + 0.02 * i, 2) for i in range(17)]


@dataclass(frozen=True)
class Row:
    """One labelled headline."""

    id: str
    title: str
    source: str
    published: datetime
    story: str


def read_rows(path: Path) -> list[Row]:
    """Read labelled headlines, sorted by time."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"id", "title", "source", "published", "story"} - set(reader.fieldnames or ())
        if missing:
            raise SystemExit(f"{path}: missing column(s): {', '.join(sorted(missing))}")
        rows = [
            Row(
                id=r["id"],
                title=r["title"],
                source=r["source"],
                published=datetime.fromisoformat(r["published"].replace("Z", "+00:00")),
                story=r["story"],
            )
            for r in reader
        ]
    return sorted(rows, key=lambda r: r.published)


def pair_scores(rows: Sequence[Row], labels: Sequence[object]) -> tuple[float, float]:
    """Return pairwise precision and recall over pairs at most PAIR_HOURS apart."""
    times = [r.published.timestamp() for r in rows]
    together = same = both = 0
    for i, row in enumerate(rows):
        end = bisect_right(times, times[i] + PAIR_HOURS * 3600)
        for j in range(i + 1, end):
            gold = row.story == rows[j].story
            put = labels[i] == labels[j]
            together += put
            same += gold
            both += put and gold
    return (both / together if together else 1.0), (both / same if same else 0.0)


Grouper = Callable[[Row], object]


def engine(params: Params) -> Grouper:
    """Return the engine as a grouper: each row in, its story id out."""
    clusterer = Clusterer(params=params)

    def group(row: Row) -> object:
        report = Report(id=row.id, title=row.title, published=row.published, source=row.source)
        return clusterer.assign(report)

    return group


_WORD_RE = re.compile(r"\w+")


def tfidf(*, centroid: bool) -> Grouper:
    """Return a plain online TF-IDF grouper over lower-cased title words.

    IDF is smoothed, log((1 + n) / (1 + df)) + 1, over the headlines seen so far. A
    headline joins the most similar group if the cosine is at least 0.15; a group is
    its first headline's vector, or with centroid=True the sum of its headlines' vectors.
    """
    df: Counter[str] = Counter()
    seen = 0
    groups: list[tuple[dict[str, float], list[int], str]] = []

    def group(row: Row) -> object:
        nonlocal seen
        counts = Counter(_WORD_RE.findall(row.title.lower()))
        seen += 1
        df.update(counts.keys())
        vec = {w: c * (math.log((1 + seen) / (1 + df[w])) + 1) for w, c in counts.items()}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        vec = {w: v / norm for w, v in vec.items()}
        best, best_cos = None, BASELINE_THRESHOLD
        for g in groups:
            rep = g[0]
            rep_norm = math.sqrt(sum(v * v for v in rep.values())) or 1.0
            cos = sum(v * rep.get(w, 0.0) for w, v in vec.items()) / rep_norm
            if cos >= best_cos:
                best, best_cos = g, cos
        if best is None:
            groups.append((vec, [1], row.id))
            return row.id
        if centroid:
            for w, v in vec.items():
                best[0][w] = best[0].get(w, 0.0) + v
        return best[2]

    return group


@dataclass(frozen=True)
class Result:
    """Scores and costs of one grouper on a list of rows."""

    precision: float
    recall: float
    per_second: float
    cpu_per_second: float
    peak_mib: float


def measure(make: Callable[[], Grouper], rows: Sequence[Row]) -> Result:
    """Run a fresh grouper over rows twice: timed, then under tracemalloc for peak memory."""
    group = make()
    wall, cpu = time.perf_counter(), time.process_time()
    labels = [group(row) for row in rows]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    tracemalloc.start()
    group = make()
    for row in rows:
        group(row)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    precision, recall = pair_scores(rows, labels)
    return Result(precision, recall, len(rows) / wall, len(rows) / cpu, peak / 2**20)


def labels_of(make: Callable[[], Grouper], rows: Sequence[Row]) -> list[object]:
    group = make()
    return [group(row) for row in rows]


def time_halves(rows: Sequence[Row]) -> tuple[list[Row], list[Row]]:
    """Cut rows at the middle of their time range."""
    start, end = rows[0].published, rows[-1].published
    middle = start + (end - start) / 2
    return [r for r in rows if r.published < middle], [r for r in rows if r.published >= middle]


def story_halves(rows: Sequence[Row]) -> tuple[list[Row], list[Row]]:
    """Split rows by aggregator story, alternately in order of first appearance."""
    order = {story: i for i, story in enumerate(dict.fromkeys(r.story for r in rows))}
    return [r for r in rows if order[r.story] % 2 == 0], [r for r in rows if order[r.story] % 2]


Scores = dict[float, tuple[float, float]]


def grid_scores(rows: Sequence[Row], base: Params) -> Scores:
    """Return precision and recall at every threshold of the grid, rows run on their own."""
    return {
        t: pair_scores(rows, labels_of(lambda t=t: engine(replace(base, threshold=t)), rows))
        for t in GRID
    }


def tuned(scores: Scores) -> float:
    """Return the threshold with the best recall at precision >= 0.97 (else best precision)."""
    good = [t for t, (p, _) in scores.items() if p >= TUNING_PRECISION]
    if good:
        return max(good, key=lambda t: scores[t][1])
    return max(scores, key=lambda t: scores[t][0])


def report_held_out(rows: list[Row], params: Params) -> None:
    """Tune the threshold on one half, score on the other, both ways, for two splits."""
    print(
        "\nheld out: each half run on its own; the threshold is tuned on one half (best recall "
        f"with precision >= {TUNING_PRECISION}) and scored on the other\n"
    )
    print(
        "| split | tuned on | threshold | P / R there | scored on | P / R | "
        f"threshold {params.threshold} there |"
    )
    print("|---|---|---|---|---|---|---|")
    for split, cut in (("time range", time_halves), ("stories, alternately", story_halves)):
        parts = cut(rows)
        grids = [grid_scores(part, params) for part in parts]
        names = [f"half 1 ({len(parts[0])})", f"half 2 ({len(parts[1])})"]
        for one, other in ((0, 1), (1, 0)):
            threshold = tuned(grids[one])
            p, r = grids[one][threshold]
            op, orr = grids[other][threshold]
            dp, dr = grids[other].get(params.threshold, (math.nan, math.nan))
            print(
                f"| {split} | {names[one]} | {threshold:.2f} | {p:.3f} / {r:.3f} | "
                f"{names[other]} | {op:.3f} / {orr:.3f} | {dp:.3f} / {dr:.3f} |"
            )


def report_dev(rows: list[Row], params: Params) -> None:
    """Print the dev-set table beside the baselines."""
    systems: list[tuple[str, Callable[[], Grouper]]] = [
        (f"newsbot stories (threshold {params.threshold})", lambda: engine(params)),
        ("TF-IDF cosine >= 0.15 vs a story's first headline", lambda: tfidf(centroid=False)),
        ("TF-IDF cosine >= 0.15 vs a story's centroid", lambda: tfidf(centroid=True)),
    ]
    stories = len({r.story for r in rows})
    print(
        f"dev set: {len(rows)} headlines, {stories} aggregator stories, "
        f"pairs within {PAIR_HOURS} h\n"
    )
    print("| system | precision | recall | headlines/s (CPU) | peak memory |")
    print("|---|---|---|---|---|")
    for name, make in systems:
        r = measure(make, rows)
        print(
            f"| {name} | {r.precision:.3f} | {r.recall:.3f} | "
            f"{r.per_second:,.0f} ({r.cpu_per_second:,.0f}) | {r.peak_mib:.1f} MiB |"
        )


# Invented vocabulary for the synthetic stream: syllables joined into words.
_ONSETS = "b c d f g h j k l m n p r s t v w z br cl dr gl kr pl sk st tr".split()  # noqa: SIM905
_NUCLEI = "a e i o u ai au ei ou".split()  # noqa: SIM905


class Synthetic:
    """Invent events and headlines that report them, over a Zipf-like vocabulary."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        words: dict[str, None] = {}
        while len(words) < 60_000:
            size = self.rng.choice((1, 2, 2, 3, 3, 4))
            word = "".join(self.rng.choice(_ONSETS) + self.rng.choice(_NUCLEI) for _ in range(size))
            words[word + self.rng.choice(("", "", "n", "r", "s", "t", "x"))] = None
        vocab = list(words)
        self.common = vocab[:20_000]
        self.common_cum = list(accumulate(1.0 / rank for rank in range(1, len(self.common) + 1)))
        self.names = [w.title() for w in vocab[20_000:]]

    def event(self) -> tuple[list[str], list[str]]:
        """Return an event's names and its own words."""
        names = self.rng.sample(self.names, 2)
        own = self.rng.choices(self.common[300:], k=4)
        return names, own

    def headline(self, event: tuple[list[str], list[str]]) -> str:
        names, own = event
        rng = self.rng
        parts = rng.sample(names, rng.choice((1, 2))) + rng.sample(own, rng.choice((2, 3)))
        parts += rng.choices(self.common, cum_weights=self.common_cum, k=rng.randint(2, 5))
        if rng.random() < 0.2:
            parts.append(f"{rng.randint(2, 900)}{rng.choice(('', 'm', '%'))}")
        rng.shuffle(parts)
        return " ".join(parts)


def rss_mib() -> float:
    """Return the resident memory of this process now (Linux), in MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return math.nan


def report_synthetic(stories_per_day: int, seed: int, params: Params) -> None:
    """Stream three days of invented news; print speed, grouping and state size each day."""
    gen = Synthetic(seed)
    start = datetime(2030, 1, 1, tzinfo=UTC)
    day = 86_400.0
    reports: list[tuple[float, int, str]] = []
    for number in range(3 * stories_per_day):
        event = gen.event()
        at = gen.rng.uniform(0, 3 * day)
        for _ in range(gen.rng.choice((1, 2, 3, 3, 4, 5))):
            reports.append((at, number, gen.headline(event)))
            at += gen.rng.expovariate(1 / 3600)
    reports.sort()
    clusterer = Clusterer(params=params)
    print(
        f"\nsynthetic stream: {stories_per_day:,} invented events a day, "
        f"{len(reports):,} headlines over 3 days (24 h window)\n"
    )
    print(
        "| day | headlines | headlines/s (CPU) | open stories (min–max) | joined another "
        "event's story | joined their event's story | reports kept | words indexed "
        "| state, pickled | RSS |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    event_of: dict[object, int] = {}
    seen_events: set[int] = set()
    index = 0
    for number in (1, 2, 3):
        batch = []
        while index < len(reports) and reports[index][0] < number * day:
            batch.append(reports[index])
            index += 1
        low, high = math.inf, 0
        stories: list[object] = []
        wall, cpu = time.perf_counter(), time.process_time()
        for i, (at, _, title) in enumerate(batch):
            report = Report(
                id=f"s{number}-{i}", title=title, published=start + timedelta(seconds=at)
            )
            stories.append(clusterer.assign(report))
            if i % 500 == 0:
                low, high = min(low, len(clusterer.stories)), max(high, len(clusterer.stories))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        wrong = right = later = 0
        for i, ((_, event, _), story) in enumerate(zip(batch, stories, strict=True)):
            own = f"s{number}-{i}"
            later += event in seen_events
            seen_events.add(event)
            if story == own:
                event_of[own] = event
                continue
            if event_of[story] == event:
                right += 1
            else:
                wrong += 1
        print(
            f"| {number} | {len(batch):,} | {len(batch) / wall:,.0f} ({len(batch) / cpu:,.0f}) "
            f"| {low:,}–{high:,} | {wrong / len(batch):.2%} | {right / max(1, later):.1%} "
            f"| {clusterer.members:,} | {clusterer.indexed_words:,} "
            f"| {len(pickle.dumps(clusterer)) / 2**20:.1f} MiB | {rss_mib():.0f} MiB |"
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "csv",
        nargs="?",
        type=Path,
        default=DEFAULT_CSV,
        help="labelled headlines (default: ../shared/data/news-stories-dev.csv)",
    )
    parser.add_argument(
        "--stories",
        type=int,
        default=10_000,
        help="invented events a day in the synthetic stream (default 10000)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-synthetic", action="store_true")
    parser.add_argument("--skip-dev", action="store_true")
    args = parser.parse_args(argv)
    params = Params()
    if not args.skip_dev:
        if not args.csv.is_file():
            parser.error(f"{args.csv}: no such file (give the path of the labelled CSV)")
        rows = read_rows(args.csv)
        report_dev(rows, params)
        report_held_out(rows, params)
    if not args.skip_synthetic:
        report_synthetic(args.stories, args.seed, params)
    return 0


if __name__ == "__main__":
    sys.exit(main())

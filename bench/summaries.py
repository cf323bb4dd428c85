"""Measure the summarizer on news pairs and on real article pages, beside simple baselines.

Usage: python bench/summaries.py [--pairs CSV] [--pages DIR] [--max-chars 400] [--limit N]

Pairs (a CSV with the columns id, article and highlights, one highlight per line): ROUGE F1
with stemming (rougeLsum on sentence lines) of the summarizer, the first sentences up to
the same budget (lead-400) and the first three sentences (Lead-3).

Pages (a folder of gzipped HTML pages and a ground-truth.json mapping each file name,
without ".html.gz", to {"url", "articleBody"}): the share of summaries that open with the
article's lede, beside trafilatura's text cut to its first two sentences. The lede is the
first paragraph of articleBody with at least 8 words; a summary opens with it when its first
8 words (all of them, if fewer) are the lede's first words, or the words right after a
dateline the summary dropped ("MADRID —", "WASHINGTON (Reuters) -").

Pages whose lede is not whole sentences are counted, and each miss is listed, marked when
its lede is page furniture (bot.summaries.furniture: a disclosure, a fact box, …).

Both sets: how many summaries are fragments (bot.summaries.fragments) or empty, documents
per second on one core (the fastest of --repeat passes, and by CPU time), and every figure
again for each half of the set, so that a gain can be seen to hold on both.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import trafilatura
from rouge_score import rouge_scorer

from bot.summaries import lead_baseline, split_sentences, summarize_html, summarize_text
from bot.summaries.fragments import is_fragment
from bot.summaries.furniture import furniture_kind

T = TypeVar("T")
ROUGE_TYPES = ("rouge1", "rouge2", "rougeLsum")
WARM_UP_DOCUMENTS = 20
LEDE_MIN_WORDS = 8
OPENING_WORDS = 8
DEFAULT_PAIRS = Path("../shared/data/cnndm-dev-200.csv")
DEFAULT_PAGES = Path("../shared/data/pages-dev")

_WORD_RE = re.compile(r"\w+")
# Where a dateline or agency tag ends in a lede: "MADRID — ", "(Reuters) - ", "N.Y. -- ".
_DATELINE_END_RE = re.compile(r"\)\s*[-–—:]*\s*|\s[-–—]{1,2}\s")
_DATELINE_CHARS = 100


@dataclass(frozen=True)
class Pair:
    """One article and its reference highlights."""

    id: str
    article: str
    highlights: str


@dataclass(frozen=True)
class Page:
    """One real article page and the first paragraph of its article."""

    name: str
    url: str
    html: str
    lede: str


@dataclass(frozen=True)
class Timing:
    """Results of the fastest of several passes, with its wall-clock and CPU seconds."""

    results: list[str]
    wall_seconds: float
    cpu_seconds: float


@dataclass(frozen=True)
class Row:
    """One system's figures on one set (or half of it)."""

    name: str
    scores: dict[str, float]
    fragments: int
    empty: int
    mean_chars: float
    timing: Timing | None


def read_pairs(path: Path, *, limit: int | None) -> list[Pair]:
    """Read article/highlights pairs from a CSV file."""
    csv.field_size_limit(sys.maxsize)
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"id", "article", "highlights"} - set(reader.fieldnames or ())
        if missing:
            raise SystemExit(f"{path}: missing column(s): {', '.join(sorted(missing))}")
        pairs = [Pair(row["id"], row["article"], row["highlights"]) for row in reader]
    return pairs[:limit] if limit else pairs


def first_lede(article_body: str) -> str:
    """Return the first paragraph with at least LEDE_MIN_WORDS words."""
    for paragraph in article_body.splitlines():
        if len(paragraph.split()) >= LEDE_MIN_WORDS:
            return paragraph.strip()
    return ""


def read_pages(folder: Path, *, limit: int | None) -> list[Page]:
    """Read the gzipped pages named in a folder's ground-truth.json, in name order."""
    truth = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for name in sorted(truth):
        html = gzip.decompress((folder / f"{name}.html.gz").read_bytes())
        pages.append(
            Page(
                name=name,
                url=truth[name]["url"],
                html=html.decode("utf-8", errors="replace"),
                lede=first_lede(truth[name]["articleBody"]),
            )
        )
    return pages[:limit] if limit else pages


def words(text: str) -> list[str]:
    """Return lowercase word tokens."""
    return _WORD_RE.findall(text.lower())


def opens_with_lede(summary: str, lede: str) -> bool:
    """Tell whether a summary's first words are the lede's, maybe after its dateline."""
    said, lede_words = words(summary)[:OPENING_WORDS], words(lede)
    if not said or not lede_words:
        return False
    starts = [0] + [
        len(words(lede[: match.end()]))
        for match in _DATELINE_END_RE.finditer(lede[:_DATELINE_CHARS])
    ]
    return any(lede_words[start : start + len(said)] == said for start in starts)


def sentence_lines(text: str) -> str:
    """Put each sentence on its own line, as rougeLsum expects."""
    sentences: list[str] = []
    for line in text.splitlines():
        sentences.extend(split_sentences(line, lang="en"))
    return "\n".join(sentences)


def lead_3(article: str) -> str:
    """Return the article's first three sentences."""
    return " ".join(split_sentences(article, lang="en")[:3])


def trafilatura_two_sentences(page: Page) -> str:
    """Return trafilatura's plain text of a page, cut to its first two sentences."""
    text = trafilatura.extract(page.html, url=page.url) or ""
    return " ".join(split_sentences(text)[:2])


def timed(function: Callable[[T], str], inputs: Sequence[T], *, repeat: int) -> Timing:
    """Run function on every input repeat times and keep the fastest pass.

    As with timeit, the fastest pass is the one least disturbed by other work
    on the machine; CPU time is reported too because it ignores that work.
    """
    best: Timing | None = None
    for _ in range(max(repeat, 1)):
        wall, cpu = time.perf_counter(), time.process_time()
        results = [function(text) for text in inputs]
        timing = Timing(results, time.perf_counter() - wall, time.process_time() - cpu)
        if best is None or timing.wall_seconds < best.wall_seconds:
            best = timing
    assert best is not None
    return best


def rouge(summaries: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Average ROUGE F1 (percent) of summaries against references."""
    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
    totals = dict.fromkeys(ROUGE_TYPES, 0.0)
    for summary, reference in zip(summaries, references, strict=True):
        result = scorer.score(reference, sentence_lines(summary))
        for rouge_type in ROUGE_TYPES:
            totals[rouge_type] += result[rouge_type].fmeasure
    count = max(len(summaries), 1)
    return {rouge_type: 100 * total / count for rouge_type, total in totals.items()}


def row(
    name: str, summaries: Sequence[str], scores: dict[str, float], timing: Timing | None = None
) -> Row:
    """Count fragments and empty summaries beside the scores."""
    return Row(
        name=name,
        scores=scores,
        fragments=sum(1 for s in summaries if s and is_fragment(s)),
        empty=sum(1 for s in summaries if not s),
        mean_chars=statistics.fmean(len(s) for s in summaries) if summaries else 0.0,
        timing=timing,
    )


def halves(items: Sequence[object]) -> tuple[slice, slice]:
    """Return the slices of the first and the second half of a set."""
    middle = (len(items) + 1) // 2
    return slice(0, middle), slice(middle, len(items))


def speed(timing: Timing | None, count: int) -> str:
    """Format documents per second by wall clock and by CPU time."""
    if timing is None or not count:
        return f"{'-':>8} {'-':>11}"
    wall = count / max(timing.wall_seconds, 1e-9)
    cpu = count / max(timing.cpu_seconds, 1e-9)
    return f"{wall:8.0f} {cpu:11.0f}"


def print_table(title: str, header: str, lines: Sequence[str]) -> None:
    """Print a fixed-width table under its title."""
    print(title)
    print(header)
    print("-" * len(header))
    for line in lines:
        print(line)
    print()


def print_pairs(rows: Sequence[Row], *, count: int, title: str) -> None:
    """Print ROUGE, fragments, empty summaries and speed for the pairs."""
    print_table(
        f"{title}: {count} article/highlights pairs, ROUGE F1 x 100",
        f"{'system':<22} {'R1':>6} {'R2':>6} {'RLsum':>6} {'chars':>6} {'frag':>5} {'empty':>5}"
        f" {'docs/s':>8} {'CPU docs/s':>11}",
        [
            f"{r.name:<22} {r.scores['rouge1']:6.1f} {r.scores['rouge2']:6.1f}"
            f" {r.scores['rougeLsum']:6.1f} {r.mean_chars:6.0f} {r.fragments:5d} {r.empty:5d}"
            f" {speed(r.timing, count)}"
            for r in rows
        ],
    )


def print_pages(rows: Sequence[Row], *, count: int, title: str) -> None:
    """Print the share opening with the lede, fragments, empty summaries and speed."""
    lines = []
    for r in rows:
        share = f"{r.scores['lede']:.0f}/{count} {100 * r.scores['lede'] / max(count, 1):5.1f}%"
        lines.append(
            f"{r.name:<30} {share:>16} {r.mean_chars:6.0f} {r.fragments:5d} {r.empty:5d}"
            f" {speed(r.timing, count)}"
        )
    print_table(
        f"{title}: {count} article pages",
        f"{'system':<30} {'opens with lede':>16} {'chars':>6} {'frag':>5} {'empty':>5}"
        f" {'docs/s':>8} {'CPU docs/s':>11}",
        lines,
    )


def bench_pairs(pairs: Sequence[Pair], *, max_chars: int, repeat: int) -> None:
    """Score the summarizer and the lead baselines on the pairs, whole and by half."""
    articles = [p.article for p in pairs]
    references = [sentence_lines(p.highlights) for p in pairs]
    # A few untimed runs build the segmenter and fill the regular-expression
    # caches, so the timing measures a long-running process's steady state.
    for article in articles[:WARM_UP_DOCUMENTS]:
        summarize_text(article, max_chars=max_chars)
    timing = timed(lambda a: summarize_text(a, max_chars=max_chars), articles, repeat=repeat)
    systems = {
        "summarizer": timing.results,
        f"lead-{max_chars}": [lead_baseline(a, max_chars=max_chars) for a in articles],
        "lead-3": [lead_3(a) for a in articles],
    }
    parts = {"all": slice(0, len(pairs))}
    parts["first half"], parts["second half"] = halves(pairs)
    for label, part in parts.items():
        rows = [
            row(
                name,
                summaries[part],
                rouge(summaries[part], references[part]),
                timing if name == "summarizer" and label == "all" else None,
            )
            for name, summaries in systems.items()
        ]
        print_pairs(rows, count=len(references[part]), title=f"Pairs, {label}")


def bench_pages(pages: Sequence[Page], *, max_chars: int, repeat: int) -> None:
    """Count summaries opening with the lede, for the summarizer and a plain baseline."""
    for page in pages[:WARM_UP_DOCUMENTS]:
        summarize_html(page.html, url=page.url, max_chars=max_chars)
    timing = timed(
        lambda p: summarize_html(p.html, url=p.url, max_chars=max_chars), pages, repeat=repeat
    )
    baseline = timed(trafilatura_two_sentences, pages, repeat=1)
    systems = {
        "summarizer": timing,
        "trafilatura + 2 sentences": baseline,
    }
    parts = {"all": slice(0, len(pages))}
    parts["first half"], parts["second half"] = halves(pages)
    for label, part in parts.items():
        subset = pages[part]
        rows = []
        for name, run in systems.items():
            summaries = run.results[part]
            hits = sum(opens_with_lede(s, p.lede) for s, p in zip(summaries, subset, strict=True))
            rows.append(row(name, summaries, {"lede": hits}, run if label == "all" else None))
        print_pages(rows, count=len(subset), title=f"Pages, {label}")
    open_ledes = [(p, s) for p, s in zip(pages, timing.results, strict=True) if is_fragment(p.lede)]
    opened = sum(opens_with_lede(s, p.lede) for p, s in open_ledes)
    print(
        f"Pages whose lede is not whole sentences: {len(open_ledes)}"
        f' ({opened} opened with it, closed with "…")'
    )
    for page, summary in zip(pages, timing.results, strict=True):
        if not opens_with_lede(summary, page.lede):
            kind = furniture_kind(page.lede) if page.lede else "none"
            label = f" [furniture: {kind}]" if kind else ""
            print(f"  missed {page.name[:12]}{label}: lede {page.lede[:70]!r}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=Path, default=DEFAULT_PAIRS, help="CSV of pairs")
    parser.add_argument("--pages", type=Path, default=DEFAULT_PAGES, help="folder of pages")
    parser.add_argument("--max-chars", type=int, default=400, help="summary budget")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N of each")
    parser.add_argument(
        "--repeat", type=int, default=3, help="timed passes; the fastest is reported"
    )
    args = parser.parse_args(argv)
    if args.max_chars < 1:
        parser.error("--max-chars must be positive")
    try:
        pairs = read_pairs(args.pairs, limit=args.limit)
        pages = read_pages(args.pages, limit=args.limit)
    except OSError as exc:
        parser.error(f"cannot read {exc.filename}: {exc.strerror or exc}")
    print(f"Budget {args.max_chars} characters.\n")
    bench_pairs(pairs, max_chars=args.max_chars, repeat=args.repeat)
    bench_pages(pages, max_chars=args.max_chars, repeat=args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

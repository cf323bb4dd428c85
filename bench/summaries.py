"""Score the summarizer against lead baselines with ROUGE on article/highlights pairs.

Usage: python bench/summaries.py PATH_TO_CSV [--max-chars 400] [--limit N]

The CSV needs the columns id, article and highlights (one highlight per line).
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rouge_score import rouge_scorer

from bot.summaries import lead_baseline, split_sentences, summarize_text

ROUGE_TYPES = ("rouge1", "rouge2", "rougeLsum")
WARM_UP_DOCUMENTS = 20


@dataclass(frozen=True)
class Pair:
    """One article and its reference highlights."""

    id: str
    article: str
    highlights: str


@dataclass(frozen=True)
class Score:
    """Mean ROUGE F1 (percent) and length of one system's summaries."""

    name: str
    rouge1: float
    rouge2: float
    rouge_lsum: float
    mean_chars: float
    docs_per_second: float | None
    cpu_docs_per_second: float | None


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


def sentence_lines(text: str) -> str:
    """Put each sentence on its own line, as rougeLsum expects."""
    sentences: list[str] = []
    for line in text.splitlines():
        sentences.extend(split_sentences(line, lang="en"))
    return "\n".join(sentences)


def lead_3(article: str) -> str:
    """Return the article's first three sentences."""
    return " ".join(split_sentences(article, lang="en")[:3])


def score(
    name: str,
    summaries: Sequence[str],
    references: Sequence[str],
    *,
    timing: Timing | None = None,
) -> Score:
    """Average ROUGE F1 of summaries against references."""
    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True)
    totals = dict.fromkeys(ROUGE_TYPES, 0.0)
    for summary, reference in zip(summaries, references, strict=True):
        result = scorer.score(reference, sentence_lines(summary))
        for rouge_type in ROUGE_TYPES:
            totals[rouge_type] += result[rouge_type].fmeasure
    count = max(len(summaries), 1)
    return Score(
        name=name,
        rouge1=100 * totals["rouge1"] / count,
        rouge2=100 * totals["rouge2"] / count,
        rouge_lsum=100 * totals["rougeLsum"] / count,
        mean_chars=statistics.fmean(len(s) for s in summaries) if summaries else 0.0,
        docs_per_second=len(summaries) / timing.wall_seconds if timing else None,
        cpu_docs_per_second=len(summaries) / timing.cpu_seconds if timing else None,
    )


@dataclass(frozen=True)
class Timing:
    """Results of the fastest of several passes, with its wall-clock and CPU seconds."""

    results: list[str]
    wall_seconds: float
    cpu_seconds: float


def timed(function: Callable[[str], str], articles: Sequence[str], *, repeat: int) -> Timing:
    """Run function on every article repeat times and keep the fastest pass.

    As with timeit, the fastest pass is the one least disturbed by other work
    on the machine; CPU time is reported too because it ignores that work.
    """
    best: Timing | None = None
    for _ in range(max(repeat, 1)):
        wall, cpu = time.perf_counter(), time.process_time()
        results = [function(article) for article in articles]
        timing = Timing(results, time.perf_counter() - wall, time.process_time() - cpu)
        if best is None or timing.wall_seconds < best.wall_seconds:
            best = timing
    assert best is not None
    return best


def print_table(scores: Sequence[Score], *, documents: int, max_chars: int) -> None:
    """Print scores as a fixed-width table."""
    print(f"{documents} documents, budget {max_chars} characters, ROUGE F1 x 100")
    header = (
        f"{'system':<24} {'R1':>6} {'R2':>6} {'RLsum':>6} {'chars':>7} {'docs/s':>8}"
        f" {'CPU docs/s':>11}"
    )
    print(header)
    print("-" * len(header))
    for s in scores:
        speed = f"{s.docs_per_second:8.0f}" if s.docs_per_second else f"{'-':>8}"
        cpu = f"{s.cpu_docs_per_second:11.0f}" if s.cpu_docs_per_second else f"{'-':>11}"
        print(
            f"{s.name:<24} {s.rouge1:6.1f} {s.rouge2:6.1f} {s.rouge_lsum:6.1f} "
            f"{s.mean_chars:7.0f} {speed} {cpu}"
        )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark from the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", type=Path, help="CSV with id, article, highlights columns")
    parser.add_argument("--max-chars", type=int, default=400, help="summary budget")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N rows")
    parser.add_argument(
        "--repeat", type=int, default=3, help="timed passes; the fastest is reported"
    )
    args = parser.parse_args(argv)
    if args.max_chars < 1:
        parser.error("--max-chars must be positive")
    try:
        pairs = read_pairs(args.csv, limit=args.limit)
    except OSError as exc:
        parser.error(f"cannot read {args.csv}: {exc.strerror or exc}")
    articles = [p.article for p in pairs]
    references = [sentence_lines(p.highlights) for p in pairs]

    # A few untimed runs build the segmenter and fill the regular-expression
    # caches, so the timing measures a long-running process's steady state.
    for article in articles[:WARM_UP_DOCUMENTS]:
        summarize_text(article, max_chars=args.max_chars)
    timing = timed(
        lambda article: summarize_text(article, max_chars=args.max_chars),
        articles,
        repeat=args.repeat,
    )
    summaries = timing.results
    leads = [lead_baseline(a, max_chars=args.max_chars) for a in articles]
    lead3 = [lead_3(a) for a in articles]
    print_table(
        [
            score("summarizer", summaries, references, timing=timing),
            score(f"lead-{args.max_chars}", leads, references),
            score("lead-3", lead3, references),
        ],
        documents=len(pairs),
        max_chars=args.max_chars,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Group reports of one event into stories, online, one report at a time in time order.

A report joins the open story it is most like, or starts a new story. Likeness is the
mean of two cosines over IDF-weighted tokens: with the story's most alike recent report
(outlets echo each other's wording) and with the story as a whole (the words its reports
keep repeating). The closest report must share at least two informative words with the
new one, one of them in both titles, and the capitalized words of a name (or a run of
characters of an unspaced script) count as one, so a shared name alone (a country, a
company) never joins two events.

The score is divided by 1 + quiet / quiet_hours, quiet being the time since the story's
latest report, and by 1 + age / age_hours: a story gone silent, or running for long,
takes only reports that are clearly about it. It is divided again by a factor that grows
with the number of members compared, as a large story offers more chances of a close
report by accident.

A word's weight (IDF) falls with the number of open stories it appears in: a word that
fifty reports of one event repeat still singles that event out, while a word found
across many events does not, and the engine learns which words are common from the
news it sees. Stories whose latest report is older than the window are dropped, which
bounds memory.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter, OrderedDict, deque
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeAlias

from bot.stories.text import tokens

DEFAULT_WINDOW = timedelta(hours=24)
# Story ids read from postings before further words only add to stories already found:
# bounds the work for a report made only of words common in the window.
_SCAN_LIMIT = 2000

ReportId: TypeAlias = Hashable


@dataclass(frozen=True, slots=True)
class Params:
    """The constants of grouping; the README's Stories section gives their reasons."""

    # Score a report needs to join a story: the one constant tuned on data.
    threshold: float = 0.16
    # Informative words a report must share with a story's closest report, and what
    # informative means: in at most one open story in e**min_idf (about 1 in 7).
    min_shared: int = 2
    min_idf: float = 2.0
    # Weight of a word only the summary has, against a title word's 1.
    summary_weight: float = 0.5
    # Summary words read besides the title.
    summary_words: int = 20
    # Pseudo-stories added to the count of open stories, so that before the window fills
    # the first stories' words do not all look common.
    prior_stories: float = 200.0
    # Recent reports a story keeps to compare with and to describe it, and how a story's
    # score shrinks with them: divided by 1 + ln(members) / members_scale (1.43 at 32).
    members: int = 32
    members_scale: float = 8.0
    # Quiet hours (since the latest report) and age (since the first) that halve a score.
    quiet_hours: float = 3.0
    age_hours: float = 12.0
    # Stories compared in full: those sharing the most informative weight.
    candidates: int = 12


@dataclass(frozen=True, slots=True)
class Report:
    """One report to place: a feed entry's id, headline, time, source and summary.

    Grouping reads the title, the summary and the time; the source only tells whose
    boilerplate a summary may repeat (between reports of one source, headlines decide).
    """

    id: ReportId
    title: str
    published: datetime
    source: str = ""
    summary: str | None = None


@dataclass(frozen=True, slots=True)
class Member:
    """What a story keeps of one recent report."""

    at: float
    words: frozenset[str]
    title: frozenset[str]
    pairs: frozenset[tuple[str, str]]
    source: str = ""


@dataclass(slots=True)
class Story:
    """An open story: its id (its first report's), first and last times, size, members."""

    id: ReportId
    first: float
    last: float
    size: int = 0
    members: deque[Member] = field(default_factory=deque)
    # Derived from members: how many hold each word, and the length of the weighted counts.
    counts: dict[str, int] = field(default_factory=dict, repr=False)
    norm: float = field(default=0.0, repr=False)


@dataclass(slots=True)
class _Probe:
    """A report being placed: its member, weights and the IDF of its words."""

    member: Member
    idf: dict[str, float]
    weights: dict[str, float]
    norm: float
    rare: frozenset[str]


class Clusterer:
    """Put each report into the open story it reports on, or start a new story.

    Feed reports in time order; a time earlier than the latest seen counts as the latest
    for expiry, and the caller clamps times in the future to the present. To rebuild
    the state at start-up, load() the reports of the last window with their stories.
    """

    def __init__(self, *, window: timedelta = DEFAULT_WINDOW, params: Params | None = None) -> None:
        if window <= timedelta(0):
            raise ValueError("the window must be positive")
        self.window = window.total_seconds()
        self.params = params or Params()
        self.stories: OrderedDict[ReportId, Story] = OrderedDict()
        # Word -> the open stories whose kept members have it; its size is the word's
        # story frequency.
        self._postings: dict[str, set[ReportId]] = {}
        self._members = 0
        self._clock = -math.inf
        self._log_total = 0.0
        self._rare_sf = 0.0

    def assign(self, report: Report) -> ReportId:
        """Return the id of report's story: an open story's, or report's own for a new one."""
        probe = self._probe(report)
        story = self._best(probe)
        if story is None:
            story = self._open(report.id, probe.member.at)
        self._add(story, probe.member)
        return story.id

    def load(self, report: Report, story_id: ReportId) -> None:
        """Add a report whose story is known, as when rebuilding the state at start-up."""
        probe = self._probe(report)
        story = self.stories.get(story_id) or self._open(story_id, probe.member.at)
        self._add(story, probe.member)

    @property
    def members(self) -> int:
        """Reports the open stories keep."""
        return self._members

    @property
    def indexed_words(self) -> int:
        """Distinct words the open stories are indexed under."""
        return len(self._postings)

    def _probe(self, report: Report) -> _Probe:
        """Tokenize and weigh a report after moving the clock to its time."""
        p = self.params
        at = report.published.timestamp()
        self._advance(at)
        found = tokens(report.title, report.summary, summary_words=p.summary_words)
        words = found.title | found.summary
        postings, log_total, log = self._postings, self._log_total, math.log
        sf = {w: len(postings.get(w, ())) for w in words}
        idf = {w: log_total - log(n + 1) for w, n in sf.items()}
        low = p.summary_weight
        weights = {w: v if w in found.title else v * low for w, v in idf.items()}
        norm = math.sqrt(sum(v * v for v in weights.values())) or 1.0
        rare = frozenset(w for w, n in sf.items() if n <= self._rare_sf)
        member = Member(
            at=at, words=words, title=found.title, pairs=found.pairs, source=report.source
        )
        return _Probe(member=member, idf=idf, weights=weights, norm=norm, rare=rare)

    def _advance(self, at: float) -> None:
        """Move the clock to at (never back) and forget what fell out of the window."""
        if at > self._clock:
            self._clock = at
        horizon = self._clock - self.window
        stories = self.stories
        while stories:
            story = next(iter(stories.values()))
            if story.last >= horizon:
                break
            del stories[story.id]
            self._members -= len(story.members)
            for word in story.counts:
                self._unpost(word, story.id)
        total = len(stories) + self.params.prior_stories
        self._log_total = math.log(total)
        self._rare_sf = total * math.exp(-self.params.min_idf) - 1.0

    def _candidates(self, probe: _Probe) -> list[Story]:
        """Return the stories sharing the most informative weight with a report."""
        need = self.params.min_shared
        postings, stories = self._postings, self.stories
        lists = sorted((postings[w] for w in probe.rare if w in postings), key=len)
        hits: Counter[ReportId] = Counter()
        scanned = 0
        for ids in lists:
            if scanned and scanned + len(ids) > _SCAN_LIMIT:
                break
            scanned += len(ids)
            hits.update(ids)
        weights = probe.weights
        votes: dict[ReportId, float] = {}
        for story_id, count in hits.items():
            if count < need:
                continue
            counts = stories[story_id].counts
            shared = [w for w in probe.rare if w in counts]
            if len(shared) >= need:
                votes[story_id] = sum(weights[w] for w in shared)
        top = heapq.nlargest(self.params.candidates, votes, key=votes.__getitem__)
        return [stories[story_id] for story_id in top]

    def _best(self, probe: _Probe) -> Story | None:
        """Return the story a report belongs to, or None if none scores enough."""
        p = self.params
        if len(probe.rare) < p.min_shared:
            return None
        at = probe.member.at
        best: Story | None = None
        best_score = p.threshold
        for story in self._candidates(probe):
            closest = self._closest(probe, story)
            if not closest:
                continue
            quiet = max(0.0, at - story.last) / 3600.0
            age = max(0.0, at - story.first) / 3600.0
            score = (closest + self._centroid(probe, story)) / 2.0
            score /= (1.0 + quiet / p.quiet_hours) * (1.0 + age / p.age_hours)
            # The best of many members is high by chance more often than the best of few.
            score /= 1.0 + math.log(max(1, len(story.members))) / p.members_scale
            if score >= best_score:
                best, best_score = story, score
        return best

    def _closest(self, probe: _Probe, story: Story) -> float:
        """Return the best cosine of a report with a recent member sharing enough rare words."""
        need, low = self.params.min_shared, self.params.summary_weight
        member, rare, idf, weights = probe.member, probe.rare, probe.idf, probe.weights
        rare_title = rare & member.title
        horizon = member.at - self.window
        best = 0.0
        for other in story.members:
            if other.at < horizon or rare_title.isdisjoint(other.title):
                continue
            # A feed repeats its boilerplate ("More details later") under unrelated
            # headlines: between reports of one source only the headlines' words count.
            if other.source == member.source:
                shared = rare_title & other.title
            else:
                shared = rare & other.words
            if len(shared) < need:
                continue
            joined = sum(1 for a, b in member.pairs & other.pairs if a in shared and b in shared)
            if len(shared) - joined < need:
                continue
            title = other.title
            dot = 0.0
            for word in member.words & other.words:
                value = weights[word] * idf[word]
                dot += value if word in title else value * low
            cosine = dot / (probe.norm * self._norm(other))
            if cosine > best:
                best = cosine
        return best

    def _norm(self, member: Member) -> float:
        """Return the length of a member's weight vector under today's word statistics."""
        postings, log_total, log = self._postings, self._log_total, math.log
        low_squared = self.params.summary_weight**2
        title = member.title
        total = 0.0
        for word in member.words:
            value = log_total - log(len(postings.get(word, ())) + 1)
            total += value * value if word in title else value * value * low_squared
        return math.sqrt(total) or 1.0

    def _centroid(self, probe: _Probe, story: Story) -> float:
        """Return the cosine of a report with the word counts of a story's members."""
        counts = story.counts
        if not story.norm:
            return 0.0
        idf = probe.idf
        dot = sum(v * idf[w] * counts[w] for w, v in probe.weights.items() if w in counts)
        return dot / (probe.norm * story.norm)

    def _open(self, story_id: ReportId, at: float) -> Story:
        if story_id in self.stories:
            raise ValueError(f"story id {story_id!r} is already an open story's")
        story = self.stories[story_id] = Story(id=story_id, first=at, last=at)
        return story

    def _add(self, story: Story, member: Member) -> None:
        """Make a report a member of story, keeping only its most recent members."""
        story.size += 1
        story.last = max(story.last, member.at)
        story.first = min(story.first, member.at)
        story.members.append(member)
        self._members += 1
        counts = story.counts
        for word in member.words:
            count = counts.get(word, 0)
            if not count:
                self._postings.setdefault(word, set()).add(story.id)
            counts[word] = count + 1
        horizon = self._clock - self.window
        members = story.members
        while members and (len(members) > self.params.members or members[0].at < horizon):
            self._members -= 1
            for word in members.popleft().words:
                count = counts[word] - 1
                if count:
                    counts[word] = count
                else:
                    del counts[word]
                    self._unpost(word, story.id)
        postings, log_total, log = self._postings, self._log_total, math.log
        story.norm = math.sqrt(
            sum(((log_total - log(len(postings[w]) + 1)) * c) ** 2 for w, c in counts.items())
        )
        self.stories.move_to_end(story.id)

    def _unpost(self, word: str, story_id: ReportId) -> None:
        ids = self._postings[word]
        ids.discard(story_id)
        if not ids:
            del self._postings[word]

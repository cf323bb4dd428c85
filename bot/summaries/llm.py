"""Optional abstractive summaries from an OpenAI-compatible chat endpoint.

Any failure falls back to the extractive summary.
"""

from __future__ import annotations

import asyncio
import logging
import re
from types import TracebackType
from typing import Any

import httpx

from bot.summaries.clutter import clean_paragraphs
from bot.summaries.extractive import DEFAULT_MAX_CHARS, fit_to_budget, summarize_text
from bot.summaries.lede import repeats_headline

logger = logging.getLogger(__name__)

# The lead of a story carries its news; sending more costs tokens for nothing.
_MAX_STORY_CHARS = 6000

SYSTEM_PROMPT = (
    "You summarize news stories. Reply with the news in at most two short sentences "
    "and at most {max_chars} characters, in the language of the story. Do not repeat "
    "the headline. Leave out bylines, dates, datelines, photo credits, promotions and "
    "anything the story does not say. Reply with the summary only."
)

_FENCE_RE = re.compile(r"^```\w*\s*|\s*```$")
_LABEL_RE = re.compile(r"^\W*(?:summary|tl;?dr|zusammenfassung|resumen|résumé|резюме)\W*:\s*", re.I)
_MARKUP_RE = re.compile(r"\*\*|__|(?m:^\s*(?:[-*•]|\d+[.)])\s+)|(?m:^#+\s*)")
_QUOTE_PAIRS = (('"', '"'), ("“", "”"), ("«", "»"), ("'", "'"))


class LlmError(Exception):
    """The endpoint's answer could not be used."""


def clean_answer(answer: str, *, max_chars: int) -> str:
    """Strip a model's answer of labels, markup and quotes, and fit it to max_chars."""
    text = _FENCE_RE.sub("", answer.strip())
    text = _MARKUP_RE.sub("", text)
    text = " ".join(text.split())
    text = _LABEL_RE.sub("", text)
    for opening, closing in _QUOTE_PAIRS:
        inner = text[1:-1]
        if (
            len(text) > 2
            and text.startswith(opening)
            and text.endswith(closing)
            and opening not in inner
            and closing not in inner
        ):
            text = inner.strip()
    return fit_to_budget(text, max_chars=max_chars)


def _story_for_prompt(text: str) -> str:
    """Return the story's clean paragraphs, cut to what the model needs."""
    story: list[str] = []
    size = 0
    for paragraph in clean_paragraphs(text):
        story.append(paragraph)
        size += len(paragraph) + 2
        if size >= _MAX_STORY_CHARS:
            break
    return "\n\n".join(story)[:_MAX_STORY_CHARS]


def _content_of(response: httpx.Response) -> str:
    """Return the first choice's message from a chat completion, or raise LlmError."""
    if response.status_code != httpx.codes.OK:
        raise LlmError(f"the endpoint answered HTTP {response.status_code}")
    try:
        data: Any = response.json()
    except ValueError as exc:
        raise LlmError("the endpoint's answer is not valid JSON") from exc
    try:
        content = data["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError) as exc:
        raise LlmError("the endpoint's answer has no choices[0].message.content") from exc
    if not isinstance(content, str) or not content.strip():
        raise LlmError("the endpoint's answer is empty")
    return content


def _describe(exc: Exception) -> str:
    """Describe a failure in one line, without request headers."""
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return "the request timed out"
    if isinstance(exc, LlmError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


class LlmSummarizer:
    """Summarize stories with a chat model, falling back to the extractive summary on any error."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None,
        model: str,
        timeout_seconds: float = 20,
        max_concurrency: int = 4,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not base_url.strip():
            raise ValueError("base_url must not be empty")
        if not model.strip():
            raise ValueError("model must not be empty")
        if timeout_seconds <= 0:
            raise ValueError(f"timeout_seconds must be positive, got {timeout_seconds}")
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
        self.model = model
        self.timeout_seconds = timeout_seconds
        self.max_concurrency = max_concurrency
        self._semaphore = asyncio.Semaphore(max_concurrency)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # A trailing slash makes "chat/completions" extend the base path (".../v1/").
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/",
            headers=headers,
            timeout=httpx.Timeout(timeout_seconds),
            transport=transport,
        )
        self._base_url = base_url

    def __repr__(self) -> str:
        return f"LlmSummarizer(base_url={self._base_url!r}, model={self.model!r})"

    async def __aenter__(self) -> LlmSummarizer:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._client.aclose()

    def _payload(self, *, story: str, title: str | None, max_chars: int) -> dict[str, Any]:
        """Build the chat completion request body."""
        user = f"Headline: {title}\n\nStory:\n{story}" if title else f"Story:\n{story}"
        return {
            "model": self.model,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT.format(max_chars=max_chars)},
                {"role": "user", "content": user},
            ],
            "temperature": 0.2,
            # Roughly two characters per token leaves room for non-English text.
            "max_tokens": max_chars // 2 + 50,
        }

    async def _ask(self, payload: dict[str, Any]) -> str:
        """Send one request, at most max_concurrency at a time, within the timeout."""
        async with self._semaphore:
            # httpx's timeout bounds each read; this bounds the whole exchange.
            async with asyncio.timeout(self.timeout_seconds):
                response = await self._client.post("chat/completions", json=payload)
        return _content_of(response)

    async def summarize(
        self, *, text: str, title: str | None, max_chars: int = DEFAULT_MAX_CHARS
    ) -> str:
        """Return the model's summary of a story, or the extractive one if that fails."""
        if max_chars < 1:
            raise ValueError(f"max_chars must be positive, got {max_chars}")
        story = _story_for_prompt(text)
        if not story:
            return ""
        try:
            answer = await self._ask(self._payload(story=story, title=title, max_chars=max_chars))
            summary = clean_answer(answer, max_chars=max_chars)
            if not summary:
                raise LlmError("the endpoint's answer is empty once cleaned")
            if repeats_headline(summary, title):
                raise LlmError("the endpoint's answer only repeats the headline")
        except Exception as exc:  # any failure falls back to the extractive summary
            logger.warning(
                "Abstractive summary failed (%s); using the extractive one", _describe(exc)
            )
            return summarize_text(text, title=title, max_chars=max_chars)
        return summary

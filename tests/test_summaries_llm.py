"""The OpenAI-compatible summarizer client against local stand-in endpoints."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest

from bot.summaries import summarize_text
from bot.summaries.llm import LlmSummarizer, clean_answer

ARTICLE = (Path(__file__).parent / "fixtures" / "articles" / "harbor-bridge.txt").read_text(
    encoding="utf-8"
)
TITLE = "Harbor Bridge to Close for Six Months of Repairs"
API_KEY = "sk-test-7c1f3a9e5b"
EXTRACTIVE = summarize_text(ARTICLE, title=TITLE, max_chars=400)

Handler = Callable[[httpx.Request], Awaitable[httpx.Response]]


def completion(content: object) -> httpx.Response:
    """Build a chat completion response with one choice."""
    return httpx.Response(
        200, json={"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}
    )


def make_summarizer(handler: Handler, **kwargs: object) -> LlmSummarizer:
    """Build a summarizer whose requests go to handler."""
    options: dict[str, object] = {
        "base_url": "https://llm.example/v1",
        "api_key": API_KEY,
        "model": "news-small",
        "timeout_seconds": 5,
    }
    options.update(kwargs)
    return LlmSummarizer(transport=httpx.MockTransport(handler), **options)  # type: ignore[arg-type]


async def test_answer_is_cleaned_and_sent_with_model_key_and_story() -> None:
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return completion('  **Summary:** "The Harbor Bridge closes on April 1 for repairs."  ')

    async with make_summarizer(handler) as summarizer:
        summary = await summarizer.summarize(text=ARTICLE, title=TITLE, max_chars=400)

    assert summary == "The Harbor Bridge closes on April 1 for repairs."
    (request,) = seen
    assert request.method == "POST"
    assert request.url == "https://llm.example/v1/chat/completions"
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    body = json.loads(request.content)
    assert body["model"] == "news-small"
    system, user = body["messages"]
    assert system["role"] == "system" and "400 characters" in system["content"]
    assert user["role"] == "user" and f"Headline: {TITLE}" in user["content"]
    assert "The Harbor Bridge will close to all traffic on April 1" in user["content"]
    # The story sent to the model is already free of clutter.
    assert "Sign up" not in user["content"] and "Advertisement" not in user["content"]


async def test_no_api_key_sends_no_authorization_header() -> None:
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return completion("The bridge closes in April.")

    async with make_summarizer(handler, api_key=None) as summarizer:
        assert await summarizer.summarize(text=ARTICLE, title=None, max_chars=400) == (
            "The bridge closes in April."
        )
    assert "Authorization" not in seen[0].headers


async def test_long_answer_is_cut_to_whole_sentences() -> None:
    answer = (
        "The Harbor Bridge closes on April 1 for six months. "
        "About 40,000 drivers a day face a 12-mile detour. Ferries add sailings."
    )

    async def handler(request: httpx.Request) -> httpx.Response:
        return completion(answer)

    async with make_summarizer(handler) as summarizer:
        summary = await summarizer.summarize(text=ARTICLE, title=TITLE, max_chars=110)
    assert summary == (
        "The Harbor Bridge closes on April 1 for six months. "
        "About 40,000 drivers a day face a 12-mile detour."
    )


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(500, text="internal error"),
        httpx.Response(429, json={"error": {"message": "rate limited"}}),
        httpx.Response(200, text="{not json"),
        httpx.Response(200, json={"id": "x", "choices": []}),
        httpx.Response(200, json={"choices": [{"message": {"role": "assistant"}}]}),
        httpx.Response(200, json=["unexpected"]),
        completion(""),
        completion("   "),
        completion(None),
        completion("**Summary:**"),
        completion(TITLE),
    ],
    ids=[
        "500",
        "429",
        "malformed-json",
        "no-choices",
        "no-content",
        "not-an-object",
        "empty",
        "blank",
        "null",
        "only-a-label",
        "headline",
    ],
)
async def test_unusable_answer_falls_back_to_the_extractive_summary(
    response: httpx.Response,
) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        return response

    async with make_summarizer(handler) as summarizer:
        summary = await summarizer.summarize(text=ARTICLE, title=TITLE, max_chars=400)
    assert summary == EXTRACTIVE
    assert summary.startswith("The Harbor Bridge will close")


async def test_connection_error_falls_back() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with make_summarizer(handler) as summarizer:
        assert await summarizer.summarize(text=ARTICLE, title=TITLE, max_chars=400) == EXTRACTIVE


async def test_slow_answer_times_out_and_falls_back() -> None:
    never = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        await never.wait()
        return completion("too late")

    async with make_summarizer(handler, timeout_seconds=0.05) as summarizer:
        summary = await asyncio.wait_for(
            summarizer.summarize(text=ARTICLE, title=TITLE, max_chars=400), timeout=5
        )
    assert summary == EXTRACTIVE


@pytest.fixture
async def silent_server() -> AsyncIterator[str]:
    """Serve on 127.0.0.1 a port that accepts requests and never answers."""
    release = asyncio.Event()

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await release.wait()
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/v1"
    release.set()
    server.close()
    await server.wait_closed()


async def test_real_endpoint_that_never_answers_times_out(silent_server: str) -> None:
    async with LlmSummarizer(
        base_url=silent_server, api_key=API_KEY, model="m", timeout_seconds=0.2
    ) as summarizer:
        summary = await asyncio.wait_for(
            summarizer.summarize(text=ARTICLE, title=TITLE, max_chars=400), timeout=5
        )
    assert summary == EXTRACTIVE


async def test_at_most_max_concurrency_requests_are_in_flight() -> None:
    in_flight = 0
    peak = 0
    release = asyncio.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await release.wait()
        in_flight -= 1
        return completion("The bridge closes in April.")

    async with make_summarizer(handler, max_concurrency=2) as summarizer:
        tasks = [
            asyncio.create_task(summarizer.summarize(text=ARTICLE, title=TITLE, max_chars=400))
            for _ in range(6)
        ]
        for _ in range(50):
            await asyncio.sleep(0)
        assert in_flight == 2
        release.set()
        results = await asyncio.gather(*tasks)
    assert peak == 2
    assert results == ["The bridge closes in April."] * 6


async def test_api_key_never_reaches_the_logs_or_repr(caplog: pytest.LogCaptureFixture) -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"failed to reach {request.url}", request=request)

    caplog.set_level(logging.DEBUG)
    async with make_summarizer(handler) as summarizer:
        await summarizer.summarize(text=ARTICLE, title=TITLE, max_chars=400)
        assert API_KEY not in repr(summarizer)
    assert "Abstractive summary failed" in caplog.text
    assert API_KEY not in caplog.text


async def test_article_without_story_gives_empty_summary_without_a_request() -> None:
    async def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request expected")

    async with make_summarizer(handler) as summarizer:
        assert await summarizer.summarize(text="Advertisement\n\n", title=None, max_chars=400) == ""


@pytest.mark.parametrize(
    "kwargs",
    [
        {"base_url": " "},
        {"model": ""},
        {"timeout_seconds": 0},
        {"max_concurrency": 0},
    ],
)
def test_invalid_settings_are_refused(kwargs: dict[str, object]) -> None:
    options: dict[str, object] = {
        "base_url": "https://llm.example/v1",
        "api_key": None,
        "model": "m",
    }
    options.update(kwargs)
    with pytest.raises(ValueError):
        LlmSummarizer(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("Summary: The dam held.", "The dam held."),
        ("```\nThe dam held.\n```", "The dam held."),
        ("“The dam held.”", "The dam held."),
        (
            "- The dam held.\n- Engineers will inspect it.",
            "The dam held. Engineers will inspect it.",
        ),
        ('He said "no" twice.', 'He said "no" twice.'),
    ],
)
def test_clean_answer(answer: str, expected: str) -> None:
    assert clean_answer(answer, max_chars=400) == expected

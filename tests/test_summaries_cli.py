"""The summarize command in file mode and JSON-lines mode."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from bot.cli.summarize import run_summarize
from bot.summaries import summarize_html, summarize_text

ARTICLES = Path(__file__).parent / "fixtures" / "articles"
BRIDGE = ARTICLES / "harbor-bridge.txt"
BUDGET_PAGE = ARTICLES / "valley-budget.html"


def run(
    files: list[str], *, jsonl: bool = False, stdin: str = "", max_chars: int = 400
) -> tuple[int, str, str]:
    """Run the command with in-memory streams and return (code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = run_summarize(
        files=files,
        jsonl=jsonl,
        stdin=io.StringIO(stdin),
        stdout=out,
        stderr=err,
        max_chars=max_chars,
    )
    return code, out.getvalue(), err.getvalue()


def test_one_file_prints_its_summary_without_a_header() -> None:
    code, out, err = run([str(BRIDGE)])
    assert code == 0
    assert err == ""
    assert out == summarize_text(BRIDGE.read_text(encoding="utf-8")) + "\n"
    assert out.startswith("The Harbor Bridge will close")


def test_html_file_is_detected_by_its_content(tmp_path: Path) -> None:
    page = tmp_path / "page.txt"  # the name says text, the content is HTML
    page.write_text(BUDGET_PAGE.read_text(encoding="utf-8"), encoding="utf-8")
    code, out, _ = run([str(page)])
    assert code == 0
    assert out == summarize_html(BUDGET_PAGE.read_text(encoding="utf-8")) + "\n"
    assert "<" not in out


def test_several_files_get_headers() -> None:
    code, out, err = run([str(BRIDGE), str(BUDGET_PAGE)])
    assert code == 0
    assert err == ""
    blocks = out.split("\n\n")
    assert blocks[0].startswith(f"==> {BRIDGE} <==\nThe Harbor Bridge will close")
    assert blocks[1].startswith(f"==> {BUDGET_PAGE} <==\nThe Valley City Council passed")


def test_unreadable_file_is_reported_and_the_rest_still_runs(tmp_path: Path) -> None:
    missing = tmp_path / "missing.txt"
    code, out, err = run([str(missing), str(BRIDGE), str(tmp_path)])
    assert code == 1
    assert err.splitlines() == [
        f"summarize: cannot read {missing}: no such file",
        f"summarize: cannot read {tmp_path}: it is a directory",
    ]
    assert "Traceback" not in err
    assert f"==> {BRIDGE} <==\nThe Harbor Bridge will close" in out


def test_file_with_no_story_prints_an_empty_line_and_a_note(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("Advertisement\n\nSign up for our newsletter\n", encoding="utf-8")
    code, out, err = run([str(empty)])
    assert code == 0
    assert out == "\n"
    assert err == f"summarize: {empty}: no story text found\n"


def test_undecodable_bytes_do_not_stop_the_file(tmp_path: Path) -> None:
    article = tmp_path / "latin1.txt"
    article.write_bytes("The café reopened on Monday after the flood.".encode("latin-1"))
    code, out, _ = run([str(article)])
    assert code == 0
    assert out.startswith("The caf") and out.endswith("reopened on Monday after the flood.\n")


def test_dash_and_no_files_read_standard_input() -> None:
    text = "The dam held overnight. Engineers will inspect it at dawn."
    assert run(["-"], stdin=text) == (0, text + "\n", "")
    assert run([], stdin=text) == (0, text + "\n", "")


def test_budget_is_passed_through() -> None:
    _, out, _ = run([str(BRIDGE)], max_chars=200)
    assert len(out.rstrip("\n")) <= 200


def test_non_positive_budget_is_refused() -> None:
    code, out, err = run([str(BRIDGE)], max_chars=0)
    assert code == 2
    assert out == ""
    assert "--max-chars must be positive" in err


# JSON lines


def jsonl_lines(records: list[object]) -> str:
    """Encode records as JSON lines."""
    return "".join(json.dumps(r) + "\n" for r in records)


def test_jsonl_answers_each_line_in_order() -> None:
    bridge = BRIDGE.read_text(encoding="utf-8")
    page = BUDGET_PAGE.read_text(encoding="utf-8")
    stdin = jsonl_lines(
        [
            {
                "id": "a",
                "text": bridge,
                "title": "Harbor Bridge to Close for Six Months of Repairs",
            },
            {"id": 2, "html": page, "url": "https://courier.example/budget"},
            {"id": "c", "text": "The dam held overnight.", "title": None, "url": None},
        ]
    )
    code, out, err = run([], jsonl=True, stdin=stdin)
    assert code == 0
    assert err == ""
    results = [json.loads(line) for line in out.splitlines()]
    assert results == [
        {
            "id": "a",
            "summary": summarize_text(
                bridge, title="Harbor Bridge to Close for Six Months of Repairs"
            ),
        },
        {"id": 2, "summary": summarize_html(page, url="https://courier.example/budget")},
        {"id": "c", "summary": "The dam held overnight."},
    ]
    assert results[0]["summary"].startswith("The Harbor Bridge will close")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "{not json",
            {
                "id": None,
                "error": "invalid JSON: Expecting property name enclosed in double quotes"
                " at column 2",
            },
        ),
        ("[1, 2]", {"id": None, "error": "each line must be a JSON object"}),
        ('{"text": "Something."}', {"id": None, "error": 'missing "id"'}),
        (
            '{"id": true, "text": "x"}',
            {"id": None, "error": '"id" must be a string or a whole number'},
        ),
        ('{"id": 7}', {"id": 7, "error": 'missing "text" or "html"'}),
        (
            '{"id": "x", "text": "a", "html": "<p>b</p>"}',
            {"id": "x", "error": 'give either "text" or "html", not both'},
        ),
        ('{"id": "x", "text": 12}', {"id": "x", "error": '"text" must be a string'}),
        (
            '{"id": "x", "text": "A.", "title": ["t"]}',
            {"id": "x", "error": '"title" must be a string'},
        ),
    ],
)
def test_bad_line_yields_an_error_and_the_run_goes_on(
    line: str, expected: dict[str, object]
) -> None:
    stdin = line + "\n" + jsonl_lines([{"id": "ok", "text": "The dam held overnight."}])
    code, out, err = run([], jsonl=True, stdin=stdin)
    assert code == 1
    assert err == ""
    results = [json.loads(x) for x in out.splitlines()]
    assert results == [expected, {"id": "ok", "summary": "The dam held overnight."}]


def test_jsonl_skips_blank_lines_and_keeps_unicode() -> None:
    stdin = (
        "\n" + jsonl_lines([{"id": "zh", "text": "大桥5日正式通车。该桥历时四年建成。"}]) + "  \n"
    )
    code, out, _ = run([], jsonl=True, stdin=stdin)
    assert code == 0
    assert out == '{"id": "zh", "summary": "大桥5日正式通车。该桥历时四年建成。"}\n'


def test_jsonl_with_files_is_refused() -> None:
    code, out, err = run([str(BRIDGE)], jsonl=True)
    assert code == 2
    assert out == ""
    assert "give no files" in err

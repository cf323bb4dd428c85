"""`newsbot cluster --jsonl`: one answer per line, the watcher's engine, bad lines named."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.stories import Clusterer, Report

ROOT = Path(__file__).resolve().parents[1]

GOOD = [
    {
        "id": "a1",
        "title": "Magnitude 6.8 earthquake strikes off the coast of Velmora",
        "source": "Coastal Herald",
        "published": "2031-04-02T06:00:00Z",
    },
    {
        "id": "a2",
        "title": "Velmora central bank raises interest rates to 4.5%",
        "source": "Money Daily",
        "published": "2031-04-02T06:02:00+00:00",
    },
    {
        "id": 3,
        "title": "Strong quake of magnitude 6.8 hits Velmora coast; tsunami alert issued",
        "summary": "A strong earthquake struck off Velmora, and a tsunami alert was issued.",
        "source": "Wire",
        "published": "2031-04-02T08:05:00+02:00",
    },
    {
        "id": "a4",
        "title": "Velmora earthquake: tsunami warning after 6.8 tremor shakes coastal towns",
        "summary": None,
        "source": "Island Post",
        "published": "2031-04-02T06:09:00",
    },
]


def lines(*objects: object) -> str:
    return "".join((o if isinstance(o, str) else json.dumps(o)) + "\n" for o in objects)


def run_main(
    args: list[str], stdin: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, list[dict[str, object]], str]:
    """Run `newsbot ARGS` in this process and return (code, output objects, stderr)."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = main(args)
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def test_good_lines_get_their_story(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_main(["cluster", "--jsonl"], lines(*GOOD), monkeypatch, capsys)
    assert (code, err) == (0, "")
    assert out == [
        {"id": "a1", "story": "a1"},
        {"id": "a2", "story": "a2"},
        {"id": 3, "story": "a1"},
        {"id": "a4", "story": "a1"},
    ]


def test_the_command_uses_the_engine_as_it_is(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = run_main(["cluster", "--jsonl"], lines(*GOOD), monkeypatch, capsys)
    # The same reports, their times in UTC (a time without an offset is UTC).
    minutes = [0, 2, 5, 9]
    clusterer = Clusterer()
    direct = [
        clusterer.assign(
            Report(
                id=str(item["id"]) if isinstance(item["id"], str) else 3,
                title=str(item["title"]),
                published=datetime(2031, 4, 2, 6, m, tzinfo=UTC),
                source=str(item["source"]),
                summary=item.get("summary"),  # type: ignore[arg-type]
            )
        )
        for item, m in zip(GOOD, minutes, strict=True)
    ]
    assert [o["story"] for o in out] == direct


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("not json", {"id": None, "error": "invalid JSON: Expecting value at column 1"}),
        (
            '{"id": "x", "title": "T"',
            {"id": None, "error": "invalid JSON: Expecting ',' delimiter at column 25"},
        ),
        ("[1, 2]", {"id": None, "error": "each line must be a JSON object"}),
        (
            '{"title": "T", "published": "2031-04-02T06:00:00Z"}',
            {"id": None, "error": 'missing "id"'},
        ),
        (
            '{"id": true, "title": "T"}',
            {"id": None, "error": '"id" must be a string or a whole number'},
        ),
        (
            '{"id": 1.5, "title": "T"}',
            {"id": None, "error": '"id" must be a string or a whole number'},
        ),
        (
            '{"id": "b", "published": "2031-04-02T06:00:00Z"}',
            {"id": "b", "error": 'missing "title"'},
        ),
        (
            '{"id": "b", "title": ["T"], "published": "2031-04-02T06:00:00Z"}',
            {"id": "b", "error": '"title" must be a string'},
        ),
        (
            '{"id": "b", "title": "  ", "published": "2031-04-02T06:00:00Z"}',
            {"id": "b", "error": '"title" is empty'},
        ),
        ('{"id": "b", "title": "T"}', {"id": "b", "error": 'missing "published"'}),
        (
            '{"id": "b", "title": "T", "published": 1712040000}',
            {"id": "b", "error": '"published" must be a string'},
        ),
        (
            '{"id": "b", "title": "T", "published": "yesterday"}',
            {
                "id": "b",
                "error": "\"published\" is not an ISO 8601 time: 'yesterday' "
                "(e.g. 2024-05-01T14:30:00Z)",
            },
        ),
        (
            '{"id": "b", "title": "T", "published": "2031-04-02T06:00:00Z", "summary": 5}',
            {"id": "b", "error": '"summary" must be a string'},
        ),
        (
            '{"id": "b", "title": "T", "published": "2031-04-02T06:00:00Z", "source": {}}',
            {"id": "b", "error": '"source" must be a string'},
        ),
        (
            '{"id": "a1", "title": "T", "published": "2031-04-02T06:00:00Z"}',
            {"id": "a1", "error": "\"id\" 'a1' was already used"},
        ),
    ],
)
def test_a_bad_line_is_named_and_the_run_goes_on(
    line: str,
    expected: dict[str, object],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    stdin = lines(GOOD[0], line, GOOD[2])
    code, out, err = run_main(["cluster", "--jsonl"], stdin, monkeypatch, capsys)
    assert code == 1
    assert err == ""
    assert out == [{"id": "a1", "story": "a1"}, expected, {"id": 3, "story": "a1"}]


def test_blank_lines_are_skipped(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_main(
        ["cluster", "--jsonl"], "\n" + lines(GOOD[0]) + "  \n", monkeypatch, capsys
    )
    assert (code, out) == (0, [{"id": "a1", "story": "a1"}])


def cli(*args: str, stdin: bytes = b"", cwd: Path) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        cwd=cwd,
        env=env,
        timeout=60,
        check=False,
    )


def test_as_a_process_from_a_file_with_broken_bytes(tmp_path: Path) -> None:
    data = (
        lines(*GOOD).encode()
        + b'{"id": "z", "title": "Caf\xe9 fire", "published": "2031-04-02T07:00:00Z"}\n'
    )
    source = tmp_path / "reports.jsonl"
    source.write_bytes(data)
    done = cli("cluster", "--jsonl", str(source), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert b"Traceback" not in done.stderr
    out = [json.loads(line) for line in done.stdout.decode().splitlines()]
    assert [o["story"] for o in out] == ["a1", "a2", "a1", "a1", "z"]
    piped = cli("cluster", "--jsonl", stdin=data, cwd=tmp_path)
    assert piped.stdout == done.stdout


def test_usage_errors_as_a_process(tmp_path: Path) -> None:
    helped = cli("cluster", "--help", cwd=tmp_path)
    assert helped.returncode == 0
    text = helped.stdout.decode()
    assert '{"id", "title", "summary"?, "source", "published"}' in text.replace("\n", " ")
    assert "--jsonl" in text
    missing_flag = cli("cluster", cwd=tmp_path)
    assert missing_flag.returncode == 2
    assert b"--jsonl" in missing_flag.stderr
    missing_file = cli("cluster", "--jsonl", str(tmp_path / "nope.jsonl"), cwd=tmp_path)
    assert missing_file.returncode == 1
    assert missing_file.stderr.decode().startswith(
        f"cluster: cannot read {tmp_path / 'nope.jsonl'}"
    )
    assert b"Traceback" not in missing_file.stderr
    listed = cli("--help", cwd=tmp_path)
    assert b"cluster" in listed.stdout

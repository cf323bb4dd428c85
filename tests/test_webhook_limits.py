"""Webhook mode under hostile input: the secret is checked before the body is read, bodies
are capped at 1 MiB (413), and anything but a JSON update gets 400, never 500."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from tests.support.webhook import (
    CHAT,
    SECRET_HEADER,
    Hook,
    start_update,
    wait_listening,
)

MIB = 1024 * 1024


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def raw_post(
    url: str,
    *,
    secret: str | None,
    length: int,
    send: int,
    chunked: bool = False,
    body: bytes | None = None,
) -> tuple[int, float]:
    """POST `send` bytes of a body declared as `length` bytes; return (status, seconds)."""
    parts = urlsplit(url)
    head = [f"POST {parts.path} HTTP/1.1", f"Host: {parts.netloc}"]
    head.append("Content-Type: application/json")
    if secret is not None:
        head.append(f"{SECRET_HEADER}: {secret}")
    head.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {length}")
    started = time.monotonic()
    with socket.create_connection((parts.hostname, parts.port), timeout=20) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        chunk = b"x" * (256 * 1024)
        sent = 0
        try:
            if body is not None:
                sock.sendall(body)
            while sent < send:
                piece = chunk[: min(len(chunk), send - sent)]
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                sent += len(piece)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed without reading the rest: what we want
        answer = b""
        while b"\r\n" not in answer:
            data = sock.recv(4096)
            if not data:
                break
            answer += data
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1") else 0
    return status, time.monotonic() - started


def test_large_posts_without_the_secret_are_refused_unread(hook: Hook) -> None:
    wait_listening(hook.local_url)
    pid = hook.process.pid
    before = rss_mib(pid)
    results: list[tuple[int, float]] = []

    def hostile() -> None:
        # Declares 95 MB and sends 24 MiB of it as fast as the server takes it.
        results.append(raw_post(hook.local_url, secret=None, length=95_000_000, send=24 * MIB))

    threads = [threading.Thread(target=hostile) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert [status for status, _ in results] == [403] * 6
    assert rss_mib(pid) - before < 40  # six bodies of 24 MiB were never buffered
    # The bot still answers real updates afterwards.
    mark = hook.telegram.mark()
    status, _ = raw_post(
        hook.local_url,
        secret=hook.secret,
        length=len(json.dumps(start_update(7))),
        send=0,
        body=json.dumps(start_update(7)).encode(),
    )
    assert status == 200
    hook.telegram.wait_for_message(CHAT, "Welcome", since=mark, timeout=15)


def test_oversized_and_malformed_bodies_get_413_and_400(hook: Hook) -> None:
    wait_listening(hook.local_url)
    url, secret = hook.local_url, hook.secret
    # Declared too large: refused before the body is read.
    assert raw_post(url, secret=secret, length=2 * MIB, send=0)[0] == 413
    # Chunked with no declared length: refused once past the cap.
    assert raw_post(url, secret=secret, length=0, send=3 * MIB, chunked=True)[0] == 413
    for body in (b"{not json", b"\xff\xfe", b"[1, 2]", b'{"no": "update_id"}', b""):
        status, _ = raw_post(url, secret=secret, length=len(body), send=0, body=body)
        assert status == 400, body
    log = hook.log_path.read_text(errors="replace")
    assert "Traceback" not in log
    assert " 500 " not in log

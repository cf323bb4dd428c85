"""Hot standby on PostgreSQL: one active instance per database; the others wait their turn.

The active instance holds a session-level advisory lock on a connection of its own for as
long as it lives. When the process dies, even by `kill -9`, the server ends its session and
frees the lock, and a waiting instance takes it. An instance that loses its lock connection
(database restart, network partition) stops at its next check, and a new holder waits
`2 × STANDBY_CHECK_SECONDS` before starting, so two instances never poll Telegram or the
feeds at the same time. SQLite needs no lock: run one instance per database file.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

from bot.db.engine import normalize_url

if TYPE_CHECKING:
    from bot.app import AnyApplication

log = logging.getLogger(__name__)

LOCK_NAMESPACE = "newsbot:active-instance"
RETRY_SECONDS = 1.0
STILL_WAITING_EVERY = 300.0

# Notice a dead peer within about half a minute, on both sides of the lock connection.
_CLIENT_KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "connect_timeout": 10,
}
_SESSION_SETTINGS = (
    "SET application_name = 'newsbot instance lock'",
    "SET tcp_keepalives_idle = 10",
    "SET tcp_keepalives_interval = 5",
    "SET tcp_keepalives_count = 3",
)


class Stopped(Exception):
    """A signal asked the process to stop while it waited for the lock."""


def uses_lock(url: str) -> bool:
    """Return whether instances on this database coordinate through the lock (PostgreSQL)."""
    return normalize_url(url).startswith("postgresql")


def lock_key(*, database: str, schema: str) -> int:
    """Derive the advisory lock key from the database and schema (a signed 64-bit integer)."""
    digest = hashlib.sha256(f"{LOCK_NAMESPACE}:{database}:{schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class InstanceLock:
    """The advisory lock, held on a dedicated connection."""

    def __init__(self, url: str) -> None:
        self._engine: Engine = sa.create_engine(
            normalize_url(url), poolclass=NullPool, connect_args=dict(_CLIENT_KEEPALIVES)
        )
        self._conn: Connection | None = None
        self._ping: threading.Thread | None = None
        self.key: int | None = None
        self.held = False

    def try_acquire(self) -> bool:
        """Try once to take the lock; raise SQLAlchemyError when the database can't be reached."""
        if self.held:
            return True
        try:
            conn = self._connect()
            got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key})
            self.held = bool(got.scalar_one())
        except Exception:
            self._drop()
            raise
        return self.held

    def _connect(self) -> Connection:
        if self._conn is None:
            conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            for statement in _SESSION_SETTINGS:
                conn.execute(sa.text(statement))
            database, schema = conn.execute(
                sa.text("SELECT current_database(), current_schema()")
            ).one()
            self.key = lock_key(database=str(database), schema=str(schema or ""))
            self._conn = conn
        return self._conn

    def alive(self, timeout: float) -> bool:
        """Return whether the lock connection still answers within `timeout` seconds."""
        if not self.held or self._conn is None:
            return False
        if self._ping is not None and self._ping.is_alive():
            return False  # the previous check never came back
        answers: list[bool] = []
        conn = self._conn

        def ping() -> None:
            try:
                conn.execute(sa.text("SELECT 1")).scalar_one()
                answers.append(True)
            except Exception:
                answers.append(False)

        # A daemon thread of its own: a ping stuck on a dead network must not hold up exit.
        self._ping = threading.Thread(target=ping, name="instance-lock-check", daemon=True)
        self._ping.start()
        self._ping.join(timeout)
        return answers == [True]

    def release(self) -> None:
        """Release the lock and close its connection."""
        held, self.held = self.held, False
        if self._ping is not None and self._ping.is_alive():
            # Closing a connection another thread is stuck on could hang; the process exit
            # closes the socket anyway.
            return
        if held and self._conn is not None:
            # Unlock explicitly: the server frees a closed session's locks only once its
            # backend has exited, a moment after the close.
            try:
                self._conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
            except Exception:
                log.debug("unlocking failed; closing the connection frees the lock", exc_info=True)
        self._drop()
        self._engine.dispose()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:
                log.debug("closing the lock connection failed", exc_info=True)


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """Turn SIGINT and SIGTERM into `stop` while waiting (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@dataclass(frozen=True, slots=True)
class Activation:
    lock: InstanceLock
    waited: bool


def become_active(
    url: str,
    *,
    check_seconds: float,
    stop: threading.Event | None = None,
    retry_seconds: float = RETRY_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> Activation | None:
    """Wait until this process holds the instance lock; None when the database needs none.

    Raise `Stopped` when SIGINT or SIGTERM arrive while waiting.
    """
    if not uses_lock(url):
        return None
    stop = stop or threading.Event()
    lock = InstanceLock(url)
    waited = False
    last_note = -STILL_WAITING_EVERY
    unreachable = False
    # A database that can't be used at all (wrong URL or password) fails at once, with the
    # error; one that goes away later, while this instance waits, is waited for.
    if lock.try_acquire():
        log.info("this is the active instance", extra={"lock": lock.key})
        return Activation(lock=lock, waited=False)
    with _stop_on_signals(stop):
        while not stop.is_set():
            try:
                if lock.try_acquire():
                    break
                unreachable = False
                if clock() - last_note >= STILL_WAITING_EVERY:
                    log.info(
                        "waiting for the active instance… (another newsbot holds the lock on "
                        "this database; this one takes over when it stops)",
                        extra={"lock": lock.key},
                    )
                    last_note = clock()
            except sa.exc.SQLAlchemyError as err:
                if not unreachable:
                    log.warning(
                        "instance lock: the database does not answer (%s); retrying",
                        type(err).__name__,
                    )
                unreachable = True
            waited = True
            stop.wait(retry_seconds)
        if stop.is_set():
            lock.release()
            raise Stopped()
        if waited:
            # The previous holder may have lost its connection rather than died: give it
            # time to notice at its next check and stop, before this one starts.
            grace = 2 * check_seconds
            log.info("took over the instance lock; starting in %.0f s", grace)
            if stop.wait(grace):
                lock.release()
                raise Stopped()
    log.info("this is the active instance", extra={"lock": lock.key})
    return Activation(lock=lock, waited=waited)


def guard(
    application: AnyApplication,
    lock: InstanceLock,
    *,
    check_seconds: float,
) -> threading.Event:
    """Check the lock every `check_seconds`; stop the application when it is lost.

    Return an event that is set when the lock was lost.
    """
    lost = threading.Event()

    async def check(context: Any) -> None:
        if await asyncio.to_thread(lock.alive, check_seconds):
            return
        if not lost.is_set():
            log.error(
                "lost the instance lock (the database connection that holds it broke); "
                "stopping so that a standby can take over",
                extra={"lock": lock.key},
            )
            lost.set()
            stop = context.application.bot_data.stop
            if callable(stop):
                stop()
            else:
                context.application.stop_running()

    jobs = application.job_queue
    assert jobs is not None, "python-telegram-bot's job-queue extra is required"
    jobs.run_repeating(
        check,
        interval=check_seconds,
        first=check_seconds,
        name="instance-lock",
        job_kwargs={"max_instances": 1, "coalesce": True, "misfire_grace_time": None},
    )
    return lost

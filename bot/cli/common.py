"""What every subcommand shares: exit codes and one-line failure messages."""

from __future__ import annotations

import sys

EXIT_FAILED = 1
EXIT_USAGE = 2


def fail(message: str, code: int = EXIT_USAGE) -> int:
    """Print `newsbot: message` to standard error and return the exit code."""
    print(f"newsbot: {message}", file=sys.stderr)
    return code


def describe_db_error(err: Exception) -> str:
    """Explain a database failure in one line, without a traceback or a password."""
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    if isinstance(err, ArgumentError | NoSuchModuleError):
        return f"DATABASE_URL is not a usable database URL ({err})"
    detail = str(getattr(err, "orig", None) or err).strip().splitlines()
    return f"could not use the database in DATABASE_URL: {detail[0] if detail else err}"

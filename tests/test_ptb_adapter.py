"""python-telegram-bot's private modules: imported in one adapter only, and still shaped the way
our transports expect, so an incompatible release fails here rather than in production."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from telegram.request import BaseRequest, HTTPXRequest, RequestData

from bot.delivery import ptb
from bot.delivery.door import GuardedRequest
from bot.delivery.transport import LeanRequest
from bot.shell.api import ShellRequest
from tests.support.imports import imported_modules

BOT = Path(__file__).resolve().parents[1] / "bot"
ADAPTER = BOT / "delivery" / "ptb.py"
TIMEOUTS = ("read_timeout", "write_timeout", "connect_timeout", "pool_timeout")


def _private_telegram_imports(path: Path) -> list[str]:
    return [
        name
        for name in imported_modules(path)
        if name.split(".")[0] == "telegram" and any(p.startswith("_") for p in name.split(".")[1:])
    ]


def test_private_modules_are_imported_by_the_adapter_only() -> None:
    wrong = {
        str(path.relative_to(BOT.parent)): found
        for path in sorted(BOT.rglob("*.py"))
        if path != ADAPTER and (found := _private_telegram_imports(path))
    }
    assert wrong == {}
    assert _private_telegram_imports(ADAPTER)  # the adapter is where they are


def test_the_private_names_still_mean_what_the_adapter_says() -> None:
    assert inspect.isclass(ptb.DefaultValue)
    assert isinstance(BaseRequest.DEFAULT_NONE, ptb.DefaultValue)
    assert ptb.ODVInput[float] is not None  # still a generic alias
    assert ptb.timeout_or(BaseRequest.DEFAULT_NONE, 3.0) == 3.0
    assert ptb.timeout_or(ptb.DefaultValue(7.0), 3.0) == 3.0
    assert ptb.timeout_or(1.5, 3.0) == 1.5
    assert ptb.timeout_or(None, 3.0) is None  # None means "no timeout", not "unset"


def test_base_request_contract_is_the_one_our_transports_implement() -> None:
    assert BaseRequest.__abstractmethods__ == {
        "do_request",
        "initialize",
        "read_timeout",
        "shutdown",
    }
    base = inspect.signature(BaseRequest.do_request)
    assert list(base.parameters) == ["self", "url", "method", "request_data", *TIMEOUTS]
    for name in TIMEOUTS:
        assert base.parameters[name].default is BaseRequest.DEFAULT_NONE
    for transport in (LeanRequest, GuardedRequest, ShellRequest, HTTPXRequest):
        assert not getattr(transport, "__abstractmethods__", set()), transport
        ours = inspect.signature(transport.do_request)
        assert list(ours.parameters) == list(base.parameters), transport


@pytest.mark.parametrize(
    "attribute",
    ["parameters", "json_parameters", "multipart_data", "contains_files", "url_encoded_parameters"],
)
def test_request_data_still_offers_what_our_transports_read(attribute: str) -> None:
    data = RequestData()
    assert hasattr(data, attribute)
    assert data.contains_files is False
    assert data.json_parameters == {}
    assert data.url_encoded_parameters() == ""

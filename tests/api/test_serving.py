"""propcheck serve, the benchmark and the browser tests run one server with one set of
settings (api/serving.py): the command line says what uvicorn.run is given."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from uvicorn.main import main as uvicorn_cli

from api.serving import command, uvicorn_options
from api.settings import get_settings


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    """Settings read again from the environment, before and after the test."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_the_command_line_and_serve_give_uvicorn_the_same_settings() -> None:
    argv = command("api.app:create_app", host="127.0.0.1", port=8123, workers=2)
    assert argv[1:4] == ["-m", "uvicorn", "--factory"]
    ctx = uvicorn_cli.make_context("uvicorn", argv[3:])
    parsed = ctx.params
    for name, value in uvicorn_options(host="127.0.0.1", port=8123, workers=2).items():
        assert parsed[name] == value, name
    assert parsed["app"] == "api.app:create_app"


def test_keep_alive_outlasts_a_load_balancers_idle_timeout(
    monkeypatch: pytest.MonkeyPatch, fresh_settings: None
) -> None:
    """Above the common 60 s idle timeout of load balancers, and configurable."""
    assert uvicorn_options(host="h", port=1, workers=1)["timeout_keep_alive"] > 60
    monkeypatch.setenv("PROPCHECK_KEEP_ALIVE_S", "120")
    get_settings.cache_clear()
    assert uvicorn_options(host="h", port=1, workers=1)["timeout_keep_alive"] == 120
    argv = command("api.app:create_app", host="h", port=1, workers=1)
    assert argv[argv.index("--timeout-keep-alive") + 1] == "120"

"""The `ironlog` command line documents every command."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from api.cli import main


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["run"],
        ["api"],
        ["worker"],
        ["migrate"],
        ["createuser"],
        ["disableuser"],
        ["seed"],
        ["projections", "retry"],
        ["projections", "status"],
        ["projections", "rebuild"],
    ],
)
def test_every_command_has_help(command: list[str]) -> None:
    result = CliRunner().invoke(main, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: " in result.output


def test_api_and_worker_take_their_sizing_options() -> None:
    runner = CliRunner()
    api_help = runner.invoke(main, ["api", "--help"]).output
    worker_help = runner.invoke(main, ["worker", "--help"]).output
    for option in ("--host", "--port", "--workers"):
        assert option in api_help
    for option in ("--processes", "--threads"):
        assert option in worker_help


def test_bad_configuration_is_reported_not_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    from core.settings import get_settings

    monkeypatch.setenv("IRONLOG_PORT", "not-a-port")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["migrate"])
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "IRONLOG_PORT" in result.output

"""The `samcryo` dispatcher: subcommand help reaches the subcommand; errors are one line."""

from __future__ import annotations

import pytest

from samcryo_core.cli import COMMANDS, main


def test_subcommand_help_shows_its_own_options(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["normalize", "--help"])
    assert exc.value.code == 0
    assert "--particle-px" in capsys.readouterr().out


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for name in COMMANDS:
        assert name in out


def test_unknown_command_is_an_error():
    with pytest.raises(SystemExit) as exc:
        main(["no-such-command"])
    assert exc.value.code == 2

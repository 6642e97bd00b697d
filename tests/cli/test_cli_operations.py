"""The CLI's API commands are derived from the operation table.

Each operation whose ``command`` is set has that ``textflow`` subcommand, a
grammar in ``api_arguments`` and a command in ``api_commands`` named after
the operation; nothing else calls the API from the command line. An operation
added to the table with a command but without its grammar or function fails here.
"""

from __future__ import annotations

import argparse
import inspect
import re

import pytest

from textflow._cli import api_commands
from textflow._cli.api_arguments import API_GRAMMAR
from textflow._cli.command_line import COMMANDS
from textflow._cli.parser import UsageError, build_parser, parse
from textflow._operations import OPERATIONS

WITH_COMMAND = {op.name: op.command for op in OPERATIONS.values() if op.command is not None}
#: The commands that are not one API call.
OTHER_COMMANDS = {"send-many", "sandbox", "campaign", "demo"}


def _subcommands() -> set[str]:
    """The subcommands the parser offers, as its usage error for an unknown one lists them."""
    with pytest.raises(UsageError, match="choose from") as refused:
        parse(build_parser(COMMANDS), ["no-such-command"])
    return set(re.findall(r"[\w-]+", str(refused.value).split("choose from")[1].split(")")[0]))


def test_the_cli_has_one_command_per_operation_that_has_one_and_no_other() -> None:
    assert _subcommands() == set(WITH_COMMAND.values()) | OTHER_COMMANDS
    assert set(COMMANDS) == set(WITH_COMMAND.values()) | OTHER_COMMANDS
    assert sorted(API_GRAMMAR) == sorted(WITH_COMMAND)


def test_each_api_command_is_the_function_named_after_its_operation() -> None:
    functions = {
        name
        for name, value in inspect.getmembers(api_commands, inspect.isfunction)
        if value.__module__ == api_commands.__name__ and not name.startswith("_")
    }
    helpers = {"make_client", "sent_line", "code_sent_line"}
    assert functions - helpers == set(WITH_COMMAND)


@pytest.mark.parametrize("name", sorted(WITH_COMMAND))
def test_each_api_command_runs_its_operation(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    called: list[str] = []

    def command_function(args: argparse.Namespace) -> int:
        called.append(name)
        return 0

    monkeypatch.setattr(api_commands, name, command_function)
    command = WITH_COMMAND[name]
    assert command is not None
    args = argparse.Namespace()
    assert COMMANDS[command](args) == 0
    assert called == [name]

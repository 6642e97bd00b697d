"""What the user types: numbers masked as the SDK masks them, full-width digits named, CSV files
for bulk."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Callable, Optional

import pytest

from textflow import _validation as check
from textflow._cli import inputs
from textflow._cli.parser import UsageError
from textflow.errors import InputValidationError

from tests.cli.cli_support import PHONE, Result, Server

Cli = Callable[..., Result]
SERBIA = "+381611231234"


def error_line(result: Result) -> str:
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("textflow: error: ")
    return lines[0]


# --- bad numbers, masked as the SDK masks them ----------------------------------------------


def sdk_message(typed: str, argument: str) -> str:
    """What the SDK says about ``typed``: the CLI must say the same."""
    with pytest.raises(InputValidationError) as info:
        check.phone_number(typed, argument)
    return str(info.value)


@pytest.mark.parametrize("typed", ["+1 234 5", "+0123 456 7890", "+39 (0)6 1234 5678"])
def test_a_bad_number_is_masked_as_the_sdk_masks_it(cli: Cli, server: Server, typed: str) -> None:
    result = cli("send", typed, "hi", *server.options)
    assert result.status == 2
    assert error_line(result) == f"textflow: error: {sdk_message(typed, 'PHONE')}"
    assert typed not in result.err
    assert server.fake.messages == []


def test_control_and_bidi_characters_in_it_are_escaped(cli: Cli, server: Server) -> None:
    result = cli("send-code", "+1\x1b\u202e2345678", *server.options)
    assert result.status == 2
    line = error_line(result)
    assert line.isprintable()
    assert "(got '+1\\x1b\\u202e*****78')" in line  # escaped among the masked digits


@pytest.mark.parametrize("command", [("send", "{}", "hi"), ("verify-code", "{}", "123456")])
def test_full_width_digits_are_named(cli: Cli, server: Server, command: tuple[str, ...]) -> None:
    # "+1234567890" as a full-width keyboard types it
    typed = "\uff0b\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19\uff10"
    result = cli(*(typed if part == "{}" else part for part in command), *server.options)
    assert result.status == 2
    line = error_line(result)
    assert "full-width digits" in line
    assert "type ASCII digits" in line
    assert typed not in line


def test_bulk_names_the_bad_number_by_its_place(cli: Cli, server: Server) -> None:
    result = cli("bulk", "hi", PHONE, "+12", *server.options)
    assert result.status == 2
    assert "(got '***')" in error_line(result)
    assert server.fake.messages == []


def test_a_trunk_zero_in_brackets_is_dropped(cli: Cli, server: Server) -> None:
    result = cli("send", "+44 (0)20 7946 0018", "hi", *server.options)
    assert result.status == 0, result.err
    assert [m.phone_number for m in server.fake.messages] == ["+442079460018"]


# --- bulk --file with a CSV --------------------------------------------------------------------


def test_bulk_reads_the_column_of_a_csv(cli: Cli, server: Server, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(
        f'name,phone,note\nAna,{PHONE},"likes, commas"\n,,\nBo,+381 61 123 1234,\n',
        encoding="utf-8",
    )
    result = cli("bulk", "Sale!", "--file", str(path), "--column", "phone", *server.options)
    assert result.status == 0, result.err
    assert [m.phone_number for m in server.fake.messages] == [PHONE, SERBIA]


def test_a_missing_column_names_the_columns_found(cli: Cli, server: Server, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(f"name,mobile\nAna,{PHONE}\n", encoding="utf-8")
    result = cli("bulk", "Sale!", "--file", str(path), "--column", "phone", *server.options)
    assert result.status == 2
    assert error_line(result).endswith(
        f"{path}: no column 'phone' in the header; the columns are: 'name', 'mobile'."
    )
    assert server.fake.messages == []


def test_a_bad_number_in_the_csv_is_named_with_its_line(
    cli: Cli, server: Server, tmp_path: Path
) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(f"phone\n{PHONE}\n\n0612\n", encoding="utf-8")
    result = cli("bulk", "Sale!", "--file", str(path), "--column", "phone", *server.options)
    assert result.status == 2
    assert f"{path} line 4 must be an international number" in error_line(result)
    assert "(got '****')" in result.err  # masked, as the SDK masks it
    assert server.fake.messages == []


def test_a_csv_without_column_says_to_name_it(cli: Cli, server: Server, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(f"name,phone\nAna,{PHONE}\n", encoding="utf-8")
    result = cli("bulk", "Sale!", "--file", str(path), *server.options)
    assert result.status == 2
    line = error_line(result)
    assert f"If {path} is a CSV file with a header row ('name', 'phone')" in line
    assert "--column" in line


def test_column_needs_a_file(cli: Cli, server: Server) -> None:
    result = cli("bulk", "hi", PHONE, "--column", "phone", *server.options)
    assert result.status == 2
    assert "give --file too" in error_line(result)


def test_an_empty_csv_says_so(cli: Cli, server: Server, tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("", encoding="utf-8")
    result = cli("bulk", "hi", "--file", str(path), "--column", "phone", *server.options)
    assert result.status == 2
    assert "the columns are: none (the file is empty)" in error_line(result)


def test_a_csv_with_a_header_only_has_no_numbers(cli: Cli, server: Server, tmp_path: Path) -> None:
    path = tmp_path / "header.csv"
    path.write_text("name,phone\n", encoding="utf-8")
    result = cli("bulk", "hi", "--file", str(path), "--column", "phone", *server.options)
    assert result.status == 2
    assert f"no phone numbers in {path}." in error_line(result)


def test_a_short_row_counts_as_an_empty_number(cli: Cli, server: Server, tmp_path: Path) -> None:
    path = tmp_path / "short.csv"
    path.write_text(f"name,phone\nAna,{PHONE}\nBo\n", encoding="utf-8")
    result = cli("bulk", "hi", "--file", str(path), "--column", "phone", *server.options)
    assert result.status == 2
    assert "line 3" in error_line(result)
    assert "(got an empty string)" in result.err


# --- the message from stdin, in process ------------------------------------------------------


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class _Unreadable(io.StringIO):
    def read(self, size: Optional[int] = -1) -> str:
        raise UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte")


def test_a_terminal_is_told_how_to_end_the_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert inputs.message("-", "TEXT", _Terminal("typed\n")) == "typed"
    assert "end it with Ctrl-D" in capsys.readouterr().err


def test_an_unreadable_stdin_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="cannot read TEXT from stdin"):
        inputs.message("-", "TEXT", _Unreadable())


def test_text_other_than_a_dash_is_the_message_itself() -> None:
    assert inputs.message("--", "TEXT", _Unreadable()) == "--"

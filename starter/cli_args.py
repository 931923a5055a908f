"""What every `coach` command shares: bad input (:class:`UsageError`, exit code 2) and the argparse types that
check a number before any command runs."""

from __future__ import annotations

import argparse
from typing import Any

from starter.bounds import MAX_ID


class UsageError(Exception):
    """Bad input from the command line: reported on stderr with exit code 2."""


def shown(value: str) -> str:
    """An argument as an error message quotes it: its repr (control characters escaped), at most 100 characters."""
    return repr(value if len(value) <= 100 else value[:99] + "…")


def whole_number(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{shown(value)} is not a whole number") from None


def record_id(value: str) -> int:
    """argparse type for ids: a whole number from 1 to 2,147,483,647 (RuckTracker's ids are 32-bit)."""
    number = whole_number(value)
    if not 1 <= number <= MAX_ID:
        raise argparse.ArgumentTypeError(
            f"{shown(value)} is not a valid id: ids are whole numbers from 1 to {MAX_ID:,}"
        )
    return number


def bounded(low: int, high: int) -> Any:
    """argparse type: a whole number from ``low`` to ``high``."""

    def parse(value: str) -> int:
        number = whole_number(value)
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"{shown(value)} is not from {low:,} to {high:,}")
        return number

    return parse

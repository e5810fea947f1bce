"""Errors a user can cause and fix, and how the CLIs show them: one line, no traceback."""

from __future__ import annotations

import argparse
from typing import NoReturn


class AlibenchError(ValueError):
    """A mistake a user can fix (config, data, paths, weights); CLIs print it as one line."""


class ConfigError(AlibenchError):
    """A grid or run config that cannot be run: names the field, the value and the choices."""


class DataError(AlibenchError):
    """Data that is missing or unreadable: says where it looked and how to supply it."""


def first_line(err: BaseException) -> str:
    """The first line of an error's message (its type's name when it has none): what a
    one-line message quotes of an error raised by a library."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


class OneLineParser(argparse.ArgumentParser):
    """A usage mistake is one line like every other user mistake, not argparse's usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see --help)\n")

"""The one error type the CLI reports; command modules raise it."""

from __future__ import annotations


class CliError(Exception):
    """A failure to report as one line: `code` is a Kafka-style error name."""

    def __init__(self, code: str, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.exit_code = exit_code

"""Errors a user can cause, mapped by the CLI to one sentence and an exit code."""


class RentbuyError(Exception):
    """A runtime failure the user should read as one sentence (exit code 1)."""

    exit_code = 1


class UsageError(RentbuyError, ValueError):
    """Bad input on the command line: unknown GPU, bad duration, impossible job (exit code 2)."""

    exit_code = 2

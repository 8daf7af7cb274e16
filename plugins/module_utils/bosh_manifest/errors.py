"""Errors shaped like bosh-utils' ComplexError, printed the way the bosh CLI prints them."""

from __future__ import annotations


class BoshError(Exception):
    """An error with an optional cause, rendered like bosh's MultilineError."""

    def __init__(self, message, cause=None):
        super().__init__(message)
        self.message = message
        self.cause = cause

    def __str__(self):
        if self.cause is None:
            return self.message
        return f"{self.message}: {self.cause}"

    def multiline(self, prefix=""):
        if self.cause is None:
            return prefix + self.message
        cause = (
            self.cause.multiline(prefix + "  ")
            if isinstance(self.cause, BoshError)
            else (prefix + "  " + str(self.cause))
        )
        return f"{prefix}{self.message}:\n{cause}"


class BoshFileError(BoshError):
    """A file that cannot be read or parsed; names the file and, for YAML, the line."""

    def __init__(self, what, path, problem, line=None, column=None):
        where = f"{what} '{path}'"
        if line is not None:
            where += f" line {line}" + (f" column {column}" if column is not None else "")
        super().__init__(f"{where}: {problem}")
        self.what = what
        self.path = path
        self.problem = problem
        self.line = line
        self.column = column

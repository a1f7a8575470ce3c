"""Domain errors that commands and queries raise; the API maps each to one problem status."""

from __future__ import annotations


class DomainError(Exception):
    """A request the domain refuses; `field` names the input at fault, when there is one, and `kind` the
    problem type when it is narrower than the status's (api/problems.py: `email-taken` for a 409)."""

    def __init__(self, message: str, *, field: str | None = None, kind: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.kind = kind


class InvalidInput(DomainError):
    """Well-formed but unacceptable input (422)."""


class Conflict(DomainError):
    """The request clashes with the current state, such as a taken handle (409)."""


class NotFound(DomainError):
    """No such thing, or not the caller's (404)."""


class Gone(DomainError):
    """It existed and was deleted (410)."""


class VersionMismatch(DomainError):
    """A change to a versioned thing named no version (409) or one that is not current (412); no current
    version when the thing does not exist."""

    def __init__(self, message: str, *, current_version: int | None, stale: bool = True) -> None:
        super().__init__(message)
        self.current_version = current_version
        self.stale = stale

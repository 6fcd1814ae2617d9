"""Exceptions raised by the tarn SDK.

Every exception tarn raises derives from :class:`TarnError`, so
``except tarn.TarnError`` catches them all. The client-side errors
(:class:`NotFoundError`, :class:`ConflictError`, ...) mirror the server's
error codes; the others are raised by the SDK itself and also derive from the
built-in exception a Python programmer would expect (``TypeError``,
``ValueError``), so existing ``except`` clauses keep working.
"""

from __future__ import annotations

__all__ = [
    "TarnError",
    "NotFoundError",
    "ConflictError",
    "UnauthorizedError",
    "ForbiddenError",
    "InvalidError",
    "CancelledError",
    "MissingInputError",
    "FilterError",
    "InputError",
    "OutputError",
    "SchemaError",
]


class TarnError(Exception):
    """Base class of every error raised by tarn."""


# Errors with a server-side error code (used by the Client).


class NotFoundError(TarnError):
    """A ref, table, model or run does not exist."""


class ConflictError(TarnError):
    """The request conflicts with the current state (already exists, moved ref, merge conflict)."""


class UnauthorizedError(TarnError):
    """No valid credentials were given."""


class ForbiddenError(TarnError):
    """The credentials do not allow this operation."""


class InvalidError(TarnError):
    """The request is malformed or names something invalid."""


class CancelledError(TarnError):
    """The job was cancelled (``tarn job cancel``, a client that went away, a server stopping); nothing was published."""


# Errors raised while defining or running models.


class MissingInputError(TarnError, TypeError):
    """A model called as plain Python was not given one of its tarn inputs or parameters."""


class FilterError(TarnError, ValueError):
    """A ``tarn.Model(filter=...)`` predicate is not valid or not supported."""


class InputError(TarnError, ValueError):
    """A step input cannot be read or does not have the declared columns."""


class OutputError(TarnError, TypeError):
    """A model returned something that cannot become an Arrow table, or lacks declared columns."""


class SchemaError(TarnError, TypeError):
    """A ``tarn.TableSchema`` or ``tarn.TableField`` is declared wrongly (no type, a repeated column)."""

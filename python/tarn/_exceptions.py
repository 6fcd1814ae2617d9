"""Exceptions raised by the tarn SDK.

Every exception tarn raises derives from :class:`TarnError`, so
``except tarn.TarnError`` catches them all. The client-side errors
(:class:`NotFoundError`, :class:`ConflictError`, ...) mirror the server's
error codes, and their subclasses what the server says an error is about
(its ``resource`` and ``reason``): :class:`BranchNotFoundError` is a
:class:`NotFoundError` about a branch, :class:`MergeConflictError` a
:class:`ConflictError` of a merge. The others are raised by the SDK itself
and also derive from the built-in exception a Python programmer would expect
(``TypeError``, ``ValueError``), so existing ``except`` clauses keep working.
"""

from __future__ import annotations

__all__ = [
    "TarnError",
    "NotFoundError",
    "RefNotFoundError",
    "BranchNotFoundError",
    "TagNotFoundError",
    "CommitNotFoundError",
    "NamespaceNotFoundError",
    "TableNotFoundError",
    "JobNotFoundError",
    "ConflictError",
    "AlreadyExistsError",
    "RefExistsError",
    "BranchExistsError",
    "TagExistsError",
    "NamespaceExistsError",
    "TableExistsError",
    "UserExistsError",
    "MergeConflictError",
    "UnauthorizedError",
    "ForbiddenError",
    "InvalidError",
    "NamespaceNotEmptyError",
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


class RefNotFoundError(NotFoundError):
    """A ref does not resolve: no branch, tag or commit of that name (the base of the more precise ones below)."""


class BranchNotFoundError(RefNotFoundError):
    """There is no branch of that name (a tag of that name is not a branch)."""


class TagNotFoundError(RefNotFoundError):
    """There is no tag of that name."""


class CommitNotFoundError(RefNotFoundError):
    """No commit has that hash, or it is not in the history the ref names (``main@1a2b3c4d``, ``main~9``)."""


class NamespaceNotFoundError(NotFoundError):
    """There is no namespace of that name at the ref."""


class TableNotFoundError(NotFoundError):
    """There is no table of that name at the ref."""


class JobNotFoundError(NotFoundError):
    """There is no job of that id, or the caller may not see it."""


class ConflictError(TarnError):
    """The request conflicts with the current state (already exists, moved ref, merge conflict)."""


class AlreadyExistsError(ConflictError):
    """What was to be created exists already (code ``exists``)."""


class RefExistsError(AlreadyExistsError):
    """A branch or tag of that name exists (branches and tags share one name space)."""


class BranchExistsError(RefExistsError):
    """A branch of that name exists."""


class TagExistsError(RefExistsError):
    """A tag of that name exists."""


class NamespaceExistsError(AlreadyExistsError):
    """The namespace exists, or one whose name differs from it only in case."""


class TableExistsError(AlreadyExistsError):
    """The table exists, or one whose name differs from it only in case."""


class UserExistsError(AlreadyExistsError):
    """A user of that name exists."""


class MergeConflictError(ConflictError):
    """A table changed on both sides of a merge; nothing was merged (the message names the tables)."""


class UnauthorizedError(TarnError):
    """No valid credentials were given."""


class ForbiddenError(TarnError):
    """The credentials do not allow this operation."""


class InvalidError(TarnError):
    """The request is malformed or names something invalid."""


class NamespaceNotEmptyError(InvalidError):
    """A namespace to drop still has tables (drop them, or pass ``force=True``)."""


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

r"""The audit's user-error type: :class:`captum_rank.checks.UserInputError` under its old name."""

from __future__ import annotations

from captum_rank.checks import UserInputError

__all__ = ["AuditInputError"]


class AuditInputError(UserInputError):
    r"""A problem with what the user asked for: unknown model, missing data, bad ranks.

    A subclass of :class:`captum_rank.checks.UserInputError` (itself a
    :class:`ValueError`): the command line turns every ``UserInputError`` into a
    one-line message and exit status 2; the name is kept for code that catches it.

    Examples:
        >>> from captum_rank.checks import UserInputError
        >>> try:
        ...     raise AuditInputError("unknown model 'x'")
        ... except UserInputError as err:
        ...     print(err)
        unknown model 'x'
    """

r"""The one exception type for bad audit inputs (user-facing, no traceback in the CLI)."""

from __future__ import annotations

__all__ = ["AuditInputError"]


class AuditInputError(ValueError):
    r"""A problem with what the user asked for: unknown model, missing data, bad ranks.

    It subclasses :class:`ValueError`, so code that already catches ``ValueError`` keeps
    working; the command line turns it into a one-line message and exit status 2.

    Examples:
        >>> try:
        ...     raise AuditInputError("unknown model 'x'")
        ... except ValueError as err:
        ...     print(err)
        unknown model 'x'
    """

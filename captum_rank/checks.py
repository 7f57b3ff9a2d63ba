r"""The one module of argument checks, shared by the core, audit, visualisation, data and CLI.

Every check either returns the value in a canonical form (``positive_int(np.int64(3))``
returns the Python ``int`` 3) or raises a :class:`UserInputError` whose message names
the argument and says how to fix it. Nothing here uses ``assert`` (``python -O`` strips
it), and nothing here imports torch, so the command line can use these checks before it
pays for importing torch.

The rules are the same everywhere: booleans are never numbers; numpy integers are
integers (as in Captum, ``n_steps=np.int64(32)`` works); integral floats are not.

Examples:
    >>> import numpy as np
    >>> positive_int(np.int64(32), "n_steps")
    32
    >>> one_of("mean", "fill", ("black", "blur", "mean"))
    'mean'
    >>> fraction(0.5, "overlap")
    0.5
    >>> positive_int(0, "limit")
    Traceback (most recent call last):
    ...
    captum_rank.checks.UserInputError: `limit` must be an integer >= 1, got 0.
"""

from __future__ import annotations

import math
import numbers
import os
import tempfile
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "UserInputError",
    "UserTypeError",
    "boolean",
    "fraction",
    "integer",
    "non_negative_int",
    "one_of",
    "optional_positive_int",
    "output_dir",
    "output_file",
    "positive_int",
    "real",
    "usable_device",
    "warn_unscaled",
]

T = TypeVar("T")


class UserInputError(ValueError, AssertionError):
    r"""A problem with what the user passed; the message names the argument and the fix.

    It subclasses :class:`ValueError`, so code that catches ``ValueError`` keeps working,
    and :class:`AssertionError`, because Captum reports bad user input (targets, shapes,
    baselines, options) with ``assert``: code written against Captum, which catches
    ``AssertionError``, catches ours too. Every user-input check raises it (none of them
    uses ``assert``, which ``python -O`` strips), so the rule is one: whatever Captum would
    assert on, ``except AssertionError`` still sees. The command line turns it (and only
    it) into a one-line message and exit status 2.

    Examples:
        >>> try:
        ...     positive_int(-1, "n_steps")
        ... except ValueError as err:
        ...     print(err)
        `n_steps` must be an integer >= 1, got -1.
        >>> isinstance(UserInputError("x"), AssertionError)
        True
    """


class UserTypeError(UserInputError, TypeError):
    r"""A :class:`UserInputError` for a value of the wrong type (also a :class:`TypeError`).

    Like every :class:`UserInputError` it is an :class:`AssertionError` too, as Captum's
    asserts on types are.

    Examples:
        >>> isinstance(UserTypeError("x"), TypeError), isinstance(UserTypeError("x"), ValueError)
        (True, True)
    """


def _type_name(value: Any) -> str:
    return type(value).__name__


def _is_integer(value: Any) -> bool:
    # numbers.Integral covers int and numpy integers (numpy registers them) but not bool
    # once bool is excluded; torch integer scalars are not Integral and are refused.
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def integer(
    value: Any,
    name: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int:
    r"""An integer (Python or numpy, never ``bool``) within ``[minimum, maximum]``.

    Args:
        value (Any): the user's value.
        name (str): the argument's name, as the user typed it.
        minimum (int, optional): smallest allowed value. Default: None.
        maximum (int, optional): largest allowed value. Default: None.

    Returns:
        int: ``value`` as a Python ``int``.

    Raises:
        UserTypeError: for a non-integer.
        UserInputError: for a value out of range.

    Examples:
        >>> integer(3, "k", minimum=0, maximum=5)
        3
        >>> integer(True, "k")
        Traceback (most recent call last):
        ...
        captum_rank.checks.UserTypeError: `k` must be an integer, got bool.
    """
    if not _is_integer(value):
        raise UserTypeError(f"`{name}` must be an integer, got {_type_name(value)}.")
    number = int(value)
    if minimum is not None and maximum is not None and not minimum <= number <= maximum:
        raise UserInputError(
            f"`{name}` must be an integer in [{minimum}, {maximum}], got {number}."
        )
    if minimum is not None and number < minimum:
        raise UserInputError(f"`{name}` must be an integer >= {minimum}, got {number}.")
    if maximum is not None and number > maximum:
        raise UserInputError(f"`{name}` must be an integer <= {maximum}, got {number}.")
    return number


def positive_int(value: Any, name: str) -> int:
    r"""An integer >= 1.

    Args:
        value (Any): the user's value.
        name (str): the argument's name.

    Returns:
        int: the value as a Python ``int``.

    Raises:
        UserTypeError: for a non-integer.
        UserInputError: for a value below 1.

    Examples:
        >>> positive_int(5, "batch_size")
        5
    """
    return integer(value, name, minimum=1)


def non_negative_int(value: Any, name: str) -> int:
    r"""An integer >= 0.

    Args:
        value (Any): the user's value.
        name (str): the argument's name.

    Returns:
        int: the value as a Python ``int``.

    Raises:
        UserTypeError: for a non-integer.
        UserInputError: for a negative value.

    Examples:
        >>> non_negative_int(0, "rank")
        0
    """
    return integer(value, name, minimum=0)


def optional_positive_int(value: Any, name: str) -> int | None:
    r"""``None`` or an integer >= 1.

    Args:
        value (Any): the user's value.
        name (str): the argument's name.

    Returns:
        int or None: the value as a Python ``int``, or ``None``.

    Raises:
        UserTypeError: for anything else than ``None`` or an integer.
        UserInputError: for a value below 1.

    Examples:
        >>> optional_positive_int(None, "internal_batch_size") is None
        True
    """
    return None if value is None else positive_int(value, name)


def real(
    value: Any,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    include_minimum: bool = True,
    include_maximum: bool = True,
) -> float:
    r"""A finite real number (never ``bool``) within the given bounds.

    Args:
        value (Any): the user's value.
        name (str): the argument's name.
        minimum (float, optional): lower bound. Default: None.
        maximum (float, optional): upper bound. Default: None.
        include_minimum (bool, optional): whether ``minimum`` itself is allowed.
            Default: True.
        include_maximum (bool, optional): whether ``maximum`` itself is allowed.
            Default: True.

    Returns:
        float: the value as a Python ``float``.

    Raises:
        UserTypeError: for a non-number.
        UserInputError: for NaN, inf, or a value out of bounds.

    Examples:
        >>> real(2, "scale", minimum=0, include_minimum=False)
        2.0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise UserTypeError(f"`{name}` must be a real number, got {_type_name(value)}.")
    number = float(value)
    if not math.isfinite(number):
        raise UserInputError(f"`{name}` must be finite, got {number}.")
    low_ok = (
        minimum is None
        or number > minimum
        or (include_minimum and number == minimum)
    )
    high_ok = (
        maximum is None
        or number < maximum
        or (include_maximum and number == maximum)
    )
    if not (low_ok and high_ok):
        left = "-inf" if minimum is None else f"{minimum:g}"
        right = "inf" if maximum is None else f"{maximum:g}"
        bracket_l = "[" if include_minimum and minimum is not None else "("
        bracket_r = "]" if include_maximum and maximum is not None else ")"
        raise UserInputError(
            f"`{name}` must be in {bracket_l}{left}, {right}{bracket_r}, got {number:g}."
        )
    return number


def fraction(value: Any, name: str, *, allow_zero: bool = False) -> float:
    r"""A number in ``(0, 1]`` (or ``[0, 1]`` with ``allow_zero``).

    Args:
        value (Any): the user's value.
        name (str): the argument's name.
        allow_zero (bool, optional): whether 0 is allowed. Default: False.

    Returns:
        float: the value.

    Raises:
        UserTypeError: for a non-number.
        UserInputError: for a value outside the interval.

    Examples:
        >>> fraction(1, "share")
        1.0
    """
    return real(value, name, minimum=0.0, maximum=1.0, include_minimum=allow_zero)


def boolean(value: Any, name: str) -> bool:
    r"""A ``bool`` (or numpy ``bool_``); integers are refused so typos do not pass.

    Args:
        value (Any): the user's value.
        name (str): the argument's name.

    Returns:
        bool: the value.

    Raises:
        UserTypeError: for anything else.

    Examples:
        >>> import numpy as np
        >>> boolean(True, "use_pyplot"), boolean(np.bool_(False), "use_pyplot")
        (True, False)
    """
    # numpy's bool is ``numpy.bool_`` (named ``bool`` since numpy 2); no numpy import here.
    if isinstance(value, bool) or (
        type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_")
    ):
        return bool(value)
    raise UserTypeError(f"`{name}` must be True or False, got {_type_name(value)}.")


def one_of(value: T, name: str, choices: Iterable[T]) -> T:
    r"""One of ``choices`` (compared with ``==``; strings are case-sensitive).

    Args:
        value (Any): the user's value.
        name (str): the argument's name.
        choices (Iterable): the allowed values, shown in the message in this order.

    Returns:
        the value.

    Raises:
        UserInputError: for anything else.

    Examples:
        >>> one_of("gausslegendre", "method", ("gausslegendre", "riemann_left"))
        'gausslegendre'
        >>> one_of("gauss", "method", ("gausslegendre", "riemann_left"))
        Traceback (most recent call last):
        ...
        captum_rank.checks.UserInputError: Unknown `method` 'gauss'; choose one of ...
    """
    options: Sequence[T] = tuple(choices)
    try:
        known = value in options
    except TypeError:  # unhashable or incomparable values are simply unknown
        known = False
    if not known:
        listed = ", ".join(repr(option) for option in options)
        raise UserInputError(f"Unknown `{name}` {value!r}; choose one of {listed}.")
    return value


def _probe_writable(directory: Path, name: str) -> None:
    # Create (and remove) a real file: os.access says yes to root everywhere, even in
    # /proc or on a read-only mount, where the first write would fail after the compute.
    try:
        handle, probe = tempfile.mkstemp(prefix=".captum-rank-probe-", dir=directory)
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise UserInputError(
            f"`{name}`: cannot create files in {str(directory)!r} ({reason}); "
            "choose a directory you can write to."
        ) from None
    os.close(handle)
    try:
        os.remove(probe)
    except OSError:  # pragma: no cover - removing what we just created
        pass


def output_dir(path: str | os.PathLike[str], name: str) -> Path:
    r"""A directory that exists or can be created, and can be written to. Creates it.

    Call it before any computation, so a bad path costs the user nothing.

    Args:
        path (str or PathLike): the directory.
        name (str): the argument's name (``"--out"`` for a command-line flag).

    Returns:
        Path: the directory, created if it did not exist.

    Raises:
        UserInputError: if the path is a file, lies under a file, or is not writable.

    Examples:
        >>> import tempfile, pathlib
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     output_dir(pathlib.Path(tmp) / "out", "out").is_dir()
        True
    """
    try:
        return _output_dir(Path(path), name)
    except OSError as err:  # a name too long, a loop of symlinks, ... (never a traceback)
        raise UserInputError(
            f"`{name}` {_shown(path)}: {err.strerror or type(err).__name__}; "
            "give a shorter or different path.") from None


def _shown(path: str | os.PathLike[str]) -> str:
    text = os.fspath(path)
    return repr(text if len(text) <= 80 else text[:60] + "..." + text[-12:])


def _output_dir(directory: Path, name: str) -> Path:
    if directory.exists() and not directory.is_dir():
        raise UserInputError(
            f"`{name}` is {str(directory)!r}, which is a file, not a directory; "
            "give a directory path (it is created if missing)."
        )
    existing = directory
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise UserInputError(
            f"`{name}` is {str(directory)!r}, but {str(existing)!r} is a file; "
            "give a directory path that does not pass through a file."
        )
    _probe_writable(existing, name)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserInputError(f"`{name}`: cannot create {str(directory)!r}: {err}.") from err
    _probe_writable(directory, name)
    return directory


def output_file(path: str | os.PathLike[str], name: str) -> Path:
    r"""A file path whose directory exists or can be created, and can be written to.

    The file itself is not created; its parent directory is.

    Args:
        path (str or PathLike): the file.
        name (str): the argument's name (``"--checkpoint"`` for a command-line flag).

    Returns:
        Path: the file path.

    Raises:
        UserInputError: if the path is a directory, or its directory is not writable.

    Examples:
        >>> import tempfile, pathlib
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     output_file(pathlib.Path(tmp) / "a" / "run.ckpt", "checkpoint").name
        'run.ckpt'
    """
    try:
        return _output_file(Path(path), name)
    except OSError as err:
        raise UserInputError(
            f"`{name}` {_shown(path)}: {err.strerror or type(err).__name__}; "
            "give a shorter or different path.") from None


def _output_file(file: Path, name: str) -> Path:
    if file.is_dir():
        raise UserInputError(
            f"`{name}` is {str(file)!r}, which is a directory; give a file path."
        )
    output_dir(file.parent if str(file.parent) else Path("."), name)
    if file.exists():
        # Opening for appending writes nothing, and fails where a write would.
        try:
            with open(file, "ab"):
                pass
        except OSError as err:
            raise UserInputError(
                f"`{name}`: {str(file)!r} exists and is not writable "
                f"({err.strerror or type(err).__name__}); choose another path."
            ) from None
    return file


def warn_unscaled(images: Any, name: str) -> None:
    r"""Warn when images look like 8-bit pixels (0-255) where ``[0, 1]`` is expected.

    The zoo's models, the audit and the image helpers take images in ``[0, 1]``; a batch
    whose values reach past 1.5 with integer steps is almost surely unscaled bytes, and
    every score computed on it would be quietly wrong.

    Args:
        images: a tensor or numpy array.
        name (str): the argument's name.

    Examples:
        >>> import warnings, torch
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     warn_unscaled(torch.tensor([0.0, 128.0, 255.0]), "inputs")
        >>> "divide by 255" in str(caught[0].message)
        True
    """
    import numpy as np

    values = images.detach().cpu().numpy() if hasattr(images, "detach") else np.asarray(images)
    if values.size == 0 or not np.issubdtype(values.dtype, np.number):
        return
    finite = values[np.isfinite(values)] if np.issubdtype(values.dtype, np.floating) else values
    if finite.size == 0:
        return
    high = float(finite.max())
    if high > 1.5 and high <= 255.0 and float(finite.min()) >= 0.0 and bool(
            np.all(np.equal(np.mod(finite, 1), 0))):
        warnings.warn(
            f"`{name}` holds values up to {high:g} in whole steps: 8-bit pixels (0-255)? "
            "captum-rank's models and metrics take images in [0, 1]; divide by 255 first "
            "(scores on unscaled images are meaningless for such models).", stacklevel=3)


def usable_device(value: Any, name: str) -> Any:
    r"""A ``torch.device`` that exists and can hold a tensor here, or a clear error.

    Args:
        value: a device string (``"cpu"``, ``"cuda:0"``), a ``torch.device``, or an int.
        name (str): the argument's name.

    Returns:
        torch.device: the device.

    Raises:
        UserInputError: an unknown device string, or a device this machine lacks.

    Examples:
        >>> usable_device("cpu", "device")
        device(type='cpu')
        >>> usable_device("gpu", "device")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        captum_rank.checks.UserInputError: `device` 'gpu' is not usable: ...
    """
    import torch

    try:
        device = torch.device(value)
        torch.empty(0, device=device)
    except (RuntimeError, TypeError, ValueError, AssertionError) as err:
        text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserInputError(
            f"`{name}` {value!r} is not usable: {text[:160]}; give 'cpu', or 'cuda' / "
            "'cuda:N' on a machine with that GPU.") from None
    return device

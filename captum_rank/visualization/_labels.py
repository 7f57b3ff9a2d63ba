r"""Class labels for figure titles and legends."""

from __future__ import annotations

from collections.abc import Sequence

from captum_rank.checks import UserInputError, UserTypeError

__all__ = ["check_class_names", "class_label"]


def check_class_names(
    class_names: Sequence[str] | None, num_classes: int | None = None
) -> list[str] | None:
    r"""``class_names`` as a list of strings, one per class (or None).

    Args:
        class_names (list of str, optional): one name per class, index ``i`` = class ``i``.
        num_classes (int, optional): the number of classes the names must cover.

    Returns:
        list of str or None.

    Raises:
        UserTypeError: a string or a non-sequence.
        UserInputError: fewer names than classes.
    """
    if class_names is None:
        return None
    if isinstance(class_names, str | bytes) or not isinstance(class_names, Sequence):
        raise UserTypeError(
            "`class_names` must be a list with one name per class (index i = class i), got "
            f"{type(class_names).__name__}."
        )
    names = [str(n) for n in class_names]
    if num_classes is not None and len(names) < num_classes:
        raise UserInputError(
            f"`class_names` has {len(names)} names but the model has {num_classes} classes; "
            "give one name per class (index i = class i)."
        )
    return names


def class_label(class_names: Sequence[str] | None, index: int, num_classes: int) -> str:
    r"""``"class 3"`` without names, else the name of class ``index``.

    Args:
        class_names (list of str, optional): one name per class.
        index (int): the class.
        num_classes (int): the number of classes.

    Returns:
        str: the label.

    Examples:
        >>> class_label(None, 3, 10), class_label(["cat", "dog"], 1, 2)
        ('class 3', 'dog')
    """
    names = check_class_names(class_names, num_classes)
    return f"class {index}" if names is None else names[index]

"""The exception tree: every class is drawn in the module docstring, under its parent."""

from __future__ import annotations

import inspect
import re

from notalone import errors


def _classes() -> dict[str, type[BaseException]]:
    return {
        name: cls
        for name, cls in vars(errors).items()
        if inspect.isclass(cls) and issubclass(cls, errors.NotAloneError)
    }


def test_every_error_is_drawn_in_the_docstring_under_its_parent() -> None:
    doc = errors.__doc__ or ""
    drawn = {}
    for line in doc.splitlines():
        match = re.match(r"^(\s*(?:[│ ]   )*)(?:[├└]── )?([A-Z]\w+Error)\b", line)
        if match:
            drawn[match.group(2)] = len(match.group(1)) + (4 if "──" in line else 0)
    assert set(drawn) == set(_classes())
    for name, cls in _classes().items():
        if cls is errors.NotAloneError:
            continue
        parent = cls.__mro__[1].__name__
        assert drawn[parent] == drawn[name] - 4, f"{name} is not drawn under {parent}"
        assert cls.__doc__, f"{name} needs a one-line docstring"


def test_identifier_error_keeps_its_kind() -> None:
    error = errors.IdentifierError("phone", "add the country code")
    assert error.kind == "phone"
    assert str(error) == "add the country code"


def test_limit_error_says_when_to_retry() -> None:
    error = errors.LimitError("too many evaluations this hour", retry_after_seconds=60)
    assert error.retry_after_seconds == 60
    assert errors.LimitError("slow down").retry_after_seconds is None

"""Reading RFC 9457 problem responses from NotAlone's servers, for both HTTP clients.

A server's title and detail are shown to the user, so they are cut short and stripped of
anything unprintable: a misbehaving server must not be able to write control sequences to
a survivor's terminal.
"""

from __future__ import annotations

import re

import httpx

_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")
MAX_PROBLEM_TEXT = 200


def problem_text(response: httpx.Response) -> tuple[str, str]:
    """(title, detail) of a problem response, cleaned; the reason phrase if it is not one."""
    try:
        problem = response.json()
    except ValueError:
        problem = None
    if not isinstance(problem, dict):
        return response.reason_phrase or "error", ""
    title, detail = problem.get("title"), problem.get("detail")
    return (
        clean(title) if isinstance(title, str) else response.reason_phrase or "error",
        clean(detail) if isinstance(detail, str) else "",
    )


def clean(text: str) -> str:
    """Printable ASCII only, at most MAX_PROBLEM_TEXT characters."""
    return _UNPRINTABLE.sub("?", text)[:MAX_PROBLEM_TEXT]


def retry_after(value: str | None) -> int | None:
    """Seconds from a Retry-After header; our servers send delta-seconds, never a date."""
    if value is None or not value.strip().isdigit():
        return None
    return int(value.strip())

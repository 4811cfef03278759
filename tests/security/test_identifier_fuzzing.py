"""Fuzzing identifier parsing: arbitrary text for every kind and region either gives a
canonical form (a fixed point of canonicalization) or an IdentifierError whose message
never repeats the input. Nothing else may escape."""

from __future__ import annotations

import os
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from notalone.errors import IdentifierError
from notalone.protocol.identifiers import IdentifierKind, canonicalize

EXAMPLES = int(os.environ.get("NOTALONE_FUZZ_EXAMPLES", "1500"))


#: A word no message of ours contains: where the input holds it, the message must not.
#: (Checking for the whole input instead would flag help texts that happen to contain
#: it, such as "instagram.com", which Hypothesis found.)
MARKER = "Zq9vWmark"

_TEXTS = st.one_of(
    st.text(max_size=120),
    st.text(alphabet="+()-. 0123456789@:/abcdefghijklmnopqrstuvwxyz%#?=&", max_size=80),
    st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
    st.tuples(
        st.sampled_from(["", "https://www.linkedin.com/in/", "+1 415 ", "mailto:", "x@"]),
        st.text(max_size=10),
    ).map(lambda parts: parts[0] + MARKER + parts[1]),
)


@settings(max_examples=EXAMPLES)
@given(
    kind=st.sampled_from(list(IdentifierKind)),
    text=_TEXTS,
    region=st.one_of(st.none(), st.text(max_size=4), st.sampled_from(["US", "GB", "DE", "ZZ"])),
)
def test_identifier_parsing_answers_or_refuses_clearly(
    kind: IdentifierKind, text: str, region: str | None
) -> None:
    try:
        result: Any = canonicalize(kind, text, region=region)
    except IdentifierError as e:
        message = str(e)
        assert message
        assert MARKER.lower() not in message.lower()
        return
    assert isinstance(result.canonical, str)
    assert result.canonical
    # Canonical forms are fixed points.
    assert canonicalize(kind, result.canonical).canonical == result.canonical

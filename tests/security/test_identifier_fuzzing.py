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


@settings(max_examples=EXAMPLES)
@given(
    kind=st.sampled_from(list(IdentifierKind)),
    text=st.one_of(
        st.text(max_size=120),
        st.text(alphabet="+()-. 0123456789@:/abcdefghijklmnopqrstuvwxyz%#?=&", max_size=80),
        st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
    ),
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
        if len(text.strip()) >= 6:
            assert text.strip() not in message
        return
    assert isinstance(result.canonical, str)
    assert result.canonical
    # Canonical forms are fixed points.
    assert canonicalize(kind, result.canonical).canonical == result.canonical

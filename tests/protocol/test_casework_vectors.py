"""vectors/casework.json follows §13, and its sealed texts are replayed, not resealed."""

from __future__ import annotations

import json
from typing import Any

from notalone.crypto import hpke
from notalone.protocol import casework, reports, vectors
from tests.conftest import REPO

CASEWORK = json.loads((REPO / "vectors" / "casework.json").read_text(encoding="utf-8"))


def test_each_case_opens_to_its_text_under_its_info() -> None:
    match_id = bytes.fromhex(CASEWORK["match_id"])
    organization_id = bytes.fromhex(CASEWORK["organization_id"])
    kinds = {}
    for case in CASEWORK["cases"]:
        private = bytes.fromhex(case["private_key"])
        assert hpke.public_key_of(private).hex() == case["public_key"]
        sealed = bytes.fromhex(case["sealed"])
        if case["kind"] == "case-note":
            info = casework.case_note_info(CASEWORK["counselor_id"], match_id)
            text = casework.open_case_note(private, CASEWORK["counselor_id"], match_id, sealed)
        else:
            info = reports.report_info(organization_id, match_id)
            text = reports.open_report(private, organization_id, match_id, sealed)
        assert info.hex() == case["info"]
        assert text == case["text"]
        kinds[case["kind"]] = text
    assert set(kinds) == {"case-note", "report"}


def test_the_casework_file_alone_is_replayed() -> None:
    previous: dict[str, Any] = {"casework.json": CASEWORK}
    sealer = vectors.replay_sealer_from(previous)
    rebuilt = vectors.build_all(sealer=sealer)
    assert rebuilt["casework.json"] == CASEWORK
    # The slot packages had nothing to replay: they were sealed afresh.
    assert sealer.replayed == 0
    assert sealer.resealed == len(rebuilt["slots.json"]["cases"])

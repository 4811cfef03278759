"""ristretto255 and expand_message_xmd against RFC 9496 and RFC 9380 vectors."""

from __future__ import annotations

import pysodium
import pytest

from notalone.crypto import group
from notalone.errors import EncodingError, InvalidElementError
from tests.conftest import load_shared_vectors

RISTRETTO = load_shared_vectors("rfc9496_ristretto255.json")
XMD = load_shared_vectors("rfc9380_expand_message_xmd_sha512.json")


@pytest.mark.parametrize(
    ("multiple", "encoding"), list(enumerate(RISTRETTO["generator_multiples"]))
)
def test_generator_multiples(multiple: int, encoding: str) -> None:
    if multiple == 0:
        assert group.IDENTITY.hex() == encoding
        assert group.mult_base_or_identity(group.scalar_from_int(0)) == group.IDENTITY
    else:
        assert group.mult_base(group.scalar_from_int(multiple)).hex() == encoding
        assert group.decode_element(bytes.fromhex(encoding)) == bytes.fromhex(encoding)


def _invalid_encodings() -> list[tuple[str, str]]:
    return [
        (reason, enc)
        for reason, encodings in RISTRETTO["invalid_encodings"].items()
        for enc in encodings
    ]


def test_vector_file_has_the_29_bad_encodings() -> None:
    assert len(_invalid_encodings()) == 29


@pytest.mark.parametrize(("reason", "encoding"), _invalid_encodings())
def test_invalid_encodings_are_rejected(reason: str, encoding: str) -> None:
    with pytest.raises(InvalidElementError, match="not a canonical"):
        group.decode_element(bytes.fromhex(encoding))
    # The multiplication used on untrusted input rejects them by itself as well.
    with pytest.raises(InvalidElementError):
        group.mult(group.scalar_from_int(7), bytes.fromhex(encoding))


@pytest.mark.parametrize("multiple", range(1, 16))
def test_the_top_bit_set_is_rejected_although_debian_libsodium_accepts_it(multiple: int) -> None:
    # Found by tests/security/test_keyserver_misbehaviour.py: libsodium 1.0.18 ignores bit
    # 255, so each element had a second encoding (an integer >= p) that passed.
    genuine = bytearray(bytes.fromhex(RISTRETTO["generator_multiples"][multiple]))
    genuine[31] |= 0x80
    with pytest.raises(InvalidElementError, match="not a canonical"):
        group.decode_element(bytes(genuine))
    with pytest.raises(InvalidElementError, match="not a canonical"):
        group.mult(group.scalar_from_int(7), bytes(genuine))


def test_identity_is_rejected_although_libsodium_accepts_it() -> None:
    with pytest.raises(InvalidElementError, match="identity"):
        group.decode_element(group.IDENTITY)


def test_wrong_length_element_is_rejected() -> None:
    with pytest.raises(InvalidElementError, match="32 bytes"):
        group.decode_element(group.GENERATOR[:31])


def _derivation_vectors() -> list[tuple[str, str]]:
    same = RISTRETTO["from_uniform_bytes_same_output"]
    return [(v["input"], v["output"]) for v in RISTRETTO["from_uniform_bytes"]] + [
        (uniform, same["output"]) for uniform in same["inputs"]
    ]


@pytest.mark.parametrize(("uniform", "element"), _derivation_vectors())
def test_one_way_map(uniform: str, element: str) -> None:
    assert pysodium.crypto_core_ristretto255_from_hash(bytes.fromhex(uniform)).hex() == element


@pytest.mark.parametrize("case", XMD["tests"], ids=lambda c: f"{c['msg'][:8]}-{c['len_in_bytes']}")
def test_expand_message_xmd_sha512(case: dict[str, object]) -> None:
    out = group.expand_message_xmd_sha512(
        str(case["msg"]).encode(), XMD["DST"].encode(), int(str(case["len_in_bytes"]))
    )
    assert out.hex() == case["uniform_bytes"]


def test_scalar_checks() -> None:
    with pytest.raises(EncodingError, match="not reduced"):
        group.decode_scalar(group.ORDER.to_bytes(32, "little"))
    with pytest.raises(EncodingError, match="32 bytes"):
        group.decode_scalar(b"\x01")
    with pytest.raises(EncodingError, match="no inverse"):
        group.scalar_invert(group.ZERO_SCALAR)
    with pytest.raises(EncodingError, match="zero"):
        group.mult_base(group.ZERO_SCALAR)
    with pytest.raises(EncodingError, match="scalar range"):
        group.scalar_from_int(group.ORDER)
    with pytest.raises(EncodingError, match="255 bytes"):
        group.expand_message_xmd_sha512(b"", b"x" * 256, 32)
    with pytest.raises(EncodingError, match="255 blocks"):
        group.expand_message_xmd_sha512(b"", b"x", 64 * 256)
    with pytest.raises(EncodingError, match="fit"):
        group.i2osp(256, 1)
    with pytest.raises(EncodingError, match="64 bytes"):
        group.reduce_scalar(b"\x00" * 32)


def test_short_buffers_never_reach_libsodium() -> None:
    # libsodium reads 32 bytes through each pointer; a short buffer must be refused first.
    seven = group.scalar_from_int(7)
    for call in (
        lambda: group.mult(seven[:31], group.GENERATOR),
        lambda: group.mult_or_identity(seven[:31], group.GENERATOR),
        lambda: group.mult_base(seven[:31]),
        lambda: group.mult_base_or_identity(b""),
        lambda: group.scalar_add(seven, b"\x01"),
        lambda: group.scalar_sub(b"", seven),
        lambda: group.scalar_mul(seven, seven[:16]),
    ):
        with pytest.raises(EncodingError, match="32 bytes"):
            call()
    with pytest.raises(InvalidElementError, match="32 bytes"):
        group.mult(seven, group.GENERATOR[:31])
    with pytest.raises(InvalidElementError, match="32 bytes"):
        group.mult_or_identity(seven, b"")


def test_identity_results() -> None:
    seven = group.scalar_from_int(7)
    assert group.mult_or_identity(seven, group.IDENTITY) == group.IDENTITY
    assert group.mult_base_or_identity(group.ZERO_SCALAR) == group.IDENTITY
    with pytest.raises(InvalidElementError, match="identity"):
        group.mult(group.ZERO_SCALAR, group.GENERATOR)

"""The ristretto255 group (RFC 9496) and its scalar field, on libsodium through pysodium.

Elements and scalars are plain 32-byte strings, as on the wire. Two pitfalls of libsodium
are handled here, once, so no caller meets them:

- libsodium accepts the identity encoding (32 zero bytes) as a valid point, but RFC 9497
  requires rejecting it: `decode_element` checks it explicitly.
- `crypto_core_ristretto255_from_hash` is only the one-way map; `hash_to_group` runs
  RFC 9380 `expand_message_xmd` with SHA-512 and the caller's DST first.

Operations on secret scalars go through libsodium's scalar functions, not Python integers,
so that their running time does not depend on the secret.
"""

from __future__ import annotations

import ctypes
import hashlib

import pysodium

from notalone.errors import EncodingError, InvalidElementError

ELEMENT_BYTES = 32
SCALAR_BYTES = 32
UNIFORM_BYTES = 64
#: The order ℓ of the ristretto255 group, 2^252 + 27742317777372353535851937790883648493.
ORDER = 2**252 + 27742317777372353535851937790883648493
IDENTITY = bytes(ELEMENT_BYTES)
ZERO_SCALAR = bytes(SCALAR_BYTES)
GENERATOR = bytes.fromhex("e2f2ae0a6abc4e71a884a961c500515f58e30b6aa582dd8db6a65945e08d2d76")

_SHA512_BLOCK = 128
_SHA512_DIGEST = 64
_ZPAD_STATE = hashlib.sha512(bytes(_SHA512_BLOCK))

# The hot paths call the library pysodium loaded directly: its Python wrappers re-check
# the library version on every call, which costs about 0.4 us each, a few per cent of a
# proven evaluation. pysodium's own wrappers are used everywhere else.
_sodium = pysodium.sodium
if not pysodium.sodium_version_check(1, 0, 18):  # pragma: no cover - Debian 12 ships 1.0.18
    raise ImportError("NotAlone needs libsodium 1.0.18 or newer for ristretto255")
_scalarmult = _sodium.crypto_scalarmult_ristretto255
_scalarmult_base = _sodium.crypto_scalarmult_ristretto255_base
_scalar_add = _sodium.crypto_core_ristretto255_scalar_add
_scalar_sub = _sodium.crypto_core_ristretto255_scalar_sub
_scalar_mul = _sodium.crypto_core_ristretto255_scalar_mul
_scalar_reduce = _sodium.crypto_core_ristretto255_scalar_reduce
_buffer = ctypes.create_string_buffer


def i2osp(value: int, length: int) -> bytes:
    """RFC 8017 I2OSP: `value` as a big-endian string of exactly `length` bytes."""
    if not 0 <= value < 1 << (8 * length):
        raise EncodingError(f"value does not fit in {length} byte(s)")
    return value.to_bytes(length, "big")


def expand_message_xmd_sha512(msg: bytes, dst: bytes, length: int) -> bytes:
    """RFC 9380 section 5.3.1 expand_message_xmd with SHA-512."""
    if len(dst) > 255:
        raise EncodingError("a domain-separation tag longer than 255 bytes is not allowed")
    blocks = -(-length // _SHA512_DIGEST)
    if blocks > 255:
        raise EncodingError("expand_message_xmd output is limited to 255 blocks")
    dst_prime = dst + len(dst).to_bytes(1, "big")
    # Every b_0 hash starts with the same 128 zero bytes (Z_pad); resume from that state.
    h0 = _ZPAD_STATE.copy()
    h0.update(msg + length.to_bytes(2, "big") + b"\x00" + dst_prime)
    b0 = h0.digest()
    bi = hashlib.sha512(b0 + b"\x01" + dst_prime).digest()
    out = [bi]
    b0_int = int.from_bytes(b0, "big")
    for i in range(2, blocks + 1):
        chained = (b0_int ^ int.from_bytes(bi, "big")).to_bytes(_SHA512_DIGEST, "big")
        bi = hashlib.sha512(chained + i.to_bytes(1, "big") + dst_prime).digest()
        out.append(bi)
    return b"".join(out)[:length]


def hash_to_group(msg: bytes, dst: bytes) -> bytes:
    """RFC 9380 hash_to_ristretto255: expand to 64 uniform bytes, then the one-way map."""
    element: bytes = pysodium.crypto_core_ristretto255_from_hash(
        expand_message_xmd_sha512(msg, dst, UNIFORM_BYTES)
    )
    return element


def hash_to_scalar(msg: bytes, dst: bytes) -> bytes:
    """RFC 9497 HashToScalar for ristretto255: 64 uniform bytes reduced modulo ℓ."""
    return reduce_scalar(expand_message_xmd_sha512(msg, dst, UNIFORM_BYTES))


def reduce_scalar(wide: bytes) -> bytes:
    """Reduce a 64-byte little-endian integer modulo ℓ."""
    if len(wide) != UNIFORM_BYTES:
        raise EncodingError(f"a wide scalar has {UNIFORM_BYTES} bytes")
    out = _buffer(SCALAR_BYTES)
    _scalar_reduce(out, wide)
    return out.raw


def decode_element(data: bytes, what: str = "element") -> bytes:
    """Check that `data` is a canonical, non-identity ristretto255 encoding; return it.

    Raises InvalidElementError naming `what` (never the bytes themselves).
    """
    if len(data) != ELEMENT_BYTES:
        raise InvalidElementError(f"{what} must be {ELEMENT_BYTES} bytes, got {len(data)}")
    if data == IDENTITY:
        raise InvalidElementError(f"{what} is the identity element, which is never valid")
    # RFC 9496 §4.3.1: the encoding is an integer below p, so its top bit is 0. The
    # libsodium in Debian 12 (1.0.18) ignores that bit, so a second encoding of every
    # element would pass it (a key server could answer with either).
    if data[ELEMENT_BYTES - 1] & 0x80 or not pysodium.crypto_core_ristretto255_is_valid_point(data):
        raise InvalidElementError(f"{what} is not a canonical ristretto255 encoding")
    return data


def decode_scalar(data: bytes, what: str = "scalar") -> bytes:
    """Check that `data` is a canonical scalar (a little-endian integer below ℓ); return it."""
    if len(data) != SCALAR_BYTES:
        raise EncodingError(f"{what} must be {SCALAR_BYTES} bytes, got {len(data)}")
    # Proof scalars are public, so an integer comparison here leaks nothing.
    if int.from_bytes(data, "little") >= ORDER:
        raise EncodingError(f"{what} is not reduced modulo the group order")
    return data


def scalar_from_int(value: int) -> bytes:
    """Encode a small public integer (a share index, a polynomial degree) as a scalar."""
    if not 0 <= value < ORDER:
        raise EncodingError("integer is out of the scalar range")
    return value.to_bytes(SCALAR_BYTES, "little")


def random_scalar() -> bytes:
    """A uniformly random non-zero scalar from libsodium's CSPRNG."""
    scalar: bytes = pysodium.crypto_core_ristretto255_scalar_random()
    return scalar


def scalar_add(a: bytes, b: bytes) -> bytes:
    """(a + b) mod ℓ."""
    _check_scalars(a, b)
    out = _buffer(SCALAR_BYTES)
    _scalar_add(out, a, b)
    return out.raw


def scalar_sub(a: bytes, b: bytes) -> bytes:
    """(a - b) mod ℓ."""
    _check_scalars(a, b)
    out = _buffer(SCALAR_BYTES)
    _scalar_sub(out, a, b)
    return out.raw


def scalar_mul(a: bytes, b: bytes) -> bytes:
    """(a · b) mod ℓ."""
    _check_scalars(a, b)
    out = _buffer(SCALAR_BYTES)
    _scalar_mul(out, a, b)
    return out.raw


def scalar_invert(a: bytes) -> bytes:
    """a⁻¹ mod ℓ; raises EncodingError for zero, which has no inverse."""
    try:
        result: bytes = pysodium.crypto_core_ristretto255_scalar_invert(a)
    except ValueError as e:
        raise EncodingError("zero has no inverse modulo the group order") from e
    return result


def scalar_is_zero(a: bytes) -> bool:
    """Whether a canonical scalar is zero (constant time)."""
    return pysodium.sodium.sodium_is_zero(a, len(a)) == 1  # type: ignore[no-any-return]


def mult(scalar: bytes, element: bytes) -> bytes:
    """scalar · element, where the result must not be the identity.

    libsodium decodes `element` (rejecting non-canonical encodings; the top bit, which the
    libsodium of Debian 12 ignores, is checked first) and refuses an identity result, so a
    single call both validates untrusted input and multiplies it.
    """
    _check_point(scalar, element)
    out = _buffer(ELEMENT_BYTES)
    if _scalarmult(out, scalar, element) != 0:
        raise InvalidElementError(
            "element is not a canonical ristretto255 encoding, or the product is the identity"
        )
    return out.raw


def mult_or_identity(scalar: bytes, element: bytes) -> bytes:
    """scalar · element, allowing an identity result (for verifying adversarial proofs).

    `element` must already have been validated by `decode_element`.
    """
    _check_point(scalar, element)
    out = _buffer(ELEMENT_BYTES)
    if _scalarmult(out, scalar, element) != 0:
        return IDENTITY
    return out.raw


def mult_base(scalar: bytes) -> bytes:
    """scalar · G; raises EncodingError when the scalar is zero modulo ℓ."""
    _check_scalars(scalar)
    out = _buffer(ELEMENT_BYTES)
    if _scalarmult_base(out, scalar) != 0:
        raise EncodingError("scalar is zero modulo the group order")
    return out.raw


def mult_base_or_identity(scalar: bytes) -> bytes:
    """scalar · G, allowing the identity (scalar zero) for verifying adversarial proofs."""
    _check_scalars(scalar)
    out = _buffer(ELEMENT_BYTES)
    if _scalarmult_base(out, scalar) != 0:
        return IDENTITY
    return out.raw


def add(p: bytes, q: bytes) -> bytes:
    """p + q for decoded elements; either may be the identity."""
    result: bytes = pysodium.crypto_core_ristretto255_add(p, q)
    return result


def _check_scalars(*scalars: bytes) -> None:
    # libsodium reads exactly 32 bytes through each pointer: a shorter buffer must never
    # reach it.
    for scalar in scalars:
        if len(scalar) != SCALAR_BYTES:
            raise EncodingError(f"a scalar has {SCALAR_BYTES} bytes, got {len(scalar)}")


def _check_point(scalar: bytes, element: bytes) -> None:
    _check_scalars(scalar)
    if len(element) != ELEMENT_BYTES:
        raise InvalidElementError(f"an element has {ELEMENT_BYTES} bytes, got {len(element)}")
    # See decode_element: libsodium 1.0.18 would accept the top bit set.
    if element[ELEMENT_BYTES - 1] & 0x80:
        raise InvalidElementError("element is not a canonical ristretto255 encoding")

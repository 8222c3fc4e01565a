"""Key format: generation, checksum, masking, and every way a secret can be mangled."""

import pytest

from apikeys import crypto
from apikeys.crypto import SecretKind

ALL_KINDS = list(SecretKind)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_generated_secret_is_recognised_with_its_kind(kind):
    secret = crypto.secret_generate(kind)
    assert secret.startswith(kind.value)
    assert len(secret) == crypto.SECRET_LENGTH
    assert crypto.secret_kind(secret) is kind


def test_prefixes_are_distinct():
    assert len({kind.value for kind in SecretKind}) == len(SecretKind)


def test_secrets_carry_at_least_160_random_bits():
    import math

    assert crypto.BODY_LENGTH * math.log2(len(crypto.ALPHABET)) >= 160
    batch = {crypto.secret_generate(SecretKind.WRITE_ONLY) for _ in range(500)}
    assert len(batch) == 500


def _mangle_one_character(secret: str, position: int) -> str:
    char = secret[position]
    other = "A" if char != "A" else "B"
    return secret[:position] + other + secret[position + 1 :]


@pytest.fixture(scope="module")
def secret():
    return crypto.secret_generate(SecretKind.READ_WRITE)


@pytest.mark.parametrize("position", [6, 10, 20, 37, 38, 40, 43])
def test_a_changed_character_is_refused(secret, position):
    assert crypto.secret_kind(_mangle_one_character(secret, position)) is None


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda s: s[:-1], id="cut-short"),
        pytest.param(lambda s: s + "0", id="too-long"),
        pytest.param(lambda s: "uf_xx_" + s[6:], id="unknown-prefix"),
        pytest.param(lambda s: "uf_wo_" + s[6:], id="other-known-prefix"),
        pytest.param(lambda s: s.upper(), id="upper-case"),
        pytest.param(lambda s: s.lower(), id="lower-case"),
        pytest.param(lambda s: s.swapcase(), id="swapped-case"),
        pytest.param(lambda s: s[:-6] + "000000", id="wrong-checksum"),
        pytest.param(lambda s: s[:20] + "-" + s[21:], id="non-alphabet"),
        pytest.param(lambda s: s[:20] + "é" + s[21:], id="non-ascii"),
        pytest.param(lambda s: " " + s[1:], id="space"),
        pytest.param(lambda s: "", id="empty"),
    ],
)
def test_mangled_secrets_are_refused(secret, mangle):
    assert crypto.secret_kind(mangle(secret)) is None


@pytest.mark.parametrize("value", [None, 42, b"uf_rw_abc", ["uf_rw_"]])
def test_non_strings_are_refused(value):
    assert crypto.secret_kind(value) is None


def test_hash_is_sha256_hex_and_matches_only_its_secret(secret):
    digest = crypto.secret_hash(secret)
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert crypto.secret_hash(secret) == digest
    assert crypto.secret_hash(_mangle_one_character(secret, 20)) != digest


def test_mask_shows_prefix_and_last_four_only(secret):
    mask = crypto.secret_mask(secret)
    assert mask.startswith("uf_rw_")
    assert mask.endswith(secret[-4:])
    assert secret[6:-4] not in mask
    assert secret[6:14] not in mask

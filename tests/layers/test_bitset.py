"""The site filter bitset: bit order, padding, round trips."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from layers import bitset


def test_first_site_is_the_most_significant_bit() -> None:
    text = bitset.encode(np.array([1, 0, 0, 0, 0, 0, 0, 1, 1], dtype=bool))
    assert base64.urlsafe_b64decode(text) == b"\x81\x80"
    assert text == base64.urlsafe_b64encode(b"\x81\x80").decode("ascii") == "gYA="


@pytest.mark.parametrize(
    ("mask", "expected"),
    [([], ""), ([True], "gA=="), ([False], "AA=="), ([True] * 8, "_w=="), ([0, 1], "QA==")],
)
def test_known_encodings(mask: list, expected: str) -> None:
    assert bitset.encode(np.array(mask, dtype=bool)) == expected


def test_encoding_is_url_safe_so_json_encoders_do_not_escape_it() -> None:
    text = bitset.encode(np.ones(6000, dtype=bool))
    assert "/" not in text
    assert "+" not in text


def test_encode_accepts_lists_of_integers() -> None:
    assert bitset.encode([1, 0, 0, 0, 0, 0, 0, 1, 1]) == "gYA="


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 100_001])
def test_round_trip(n: int) -> None:
    mask = np.random.default_rng(n).random(n) < 0.3
    text = bitset.encode(mask)
    assert len(base64.urlsafe_b64decode(text)) == (n + 7) // 8
    back = bitset.decode(text, n)
    assert back.dtype == bool
    assert back.shape == (n,)
    np.testing.assert_array_equal(back, mask)


def test_decode_drops_the_padding_bits() -> None:
    assert bitset.decode("//8=", 9).tolist() == [True] * 9
    assert bitset.decode("gYA=", 9).tolist() == [True, *[False] * 6, True, True]

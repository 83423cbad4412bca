"""Which sites match, as a compact base64 bitset the browser's point layer tests per site."""

from __future__ import annotations

import base64

import numpy as np


def encode(mask: np.ndarray) -> str:
    """URL-safe base64 of the mask's bits, first site in the most significant bit of the first byte.

    URL-safe so that JSON encoders that escape '/' do not inflate it.
    """
    return base64.urlsafe_b64encode(np.packbits(np.asarray(mask, dtype=bool)).tobytes()).decode("ascii")


def decode(text: str, n: int) -> np.ndarray:
    """Inverse of :func:`encode` for ``n`` sites."""
    bits = np.unpackbits(np.frombuffer(base64.urlsafe_b64decode(text), dtype=np.uint8))
    return bits[:n].astype(bool)

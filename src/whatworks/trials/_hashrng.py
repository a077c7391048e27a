"""Version-independent randomness: every draw is a keyed hash (HMAC-SHA256) of the seed and a label.

A draw never depends on a generator's internal stream, only on the seed and on what is being
drawn (``"complete", stratum, unit id``), so the same seed gives the same allocation on every
version of Python, numpy or whatworks that keeps :data:`ALGORITHM`, and anyone can re-derive it
with ten lines of code in any language:

``key = HMAC-SHA256(key=str(seed) as UTF-8, message="\\x1f".join(parts) as UTF-8)``;
``uniform = int(first 8 bytes of key, big-endian) >> 11, divided by 2**53`` (in [0, 1)).

Ordering a list by its items' keys is a uniformly random permutation (the keys are independent
and, for practical purposes, never tie; ties are broken by the item's text).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence

import numpy as np

ALGORITHM = "whatworks-hmac-sha256/1"


def digest(seed: int | str, *parts: object) -> bytes:
    """HMAC-SHA256 of the parts (joined by the unit separator) under the seed."""
    message = "\x1f".join(str(p) for p in parts).encode("utf-8")
    return hmac.new(str(seed).encode("utf-8"), message, hashlib.sha256).digest()


def uniform(seed: int | str, *parts: object) -> float:
    """A uniform number in [0, 1) with 53 random bits, determined by the seed and the parts."""
    return (int.from_bytes(digest(seed, *parts)[:8], "big") >> 11) / 2.0 ** 53


def randbelow(seed: int | str, k: int, *parts: object) -> int:
    """An integer in 0..k-1, uniform (the bias of a 256-bit key reduced mod k is below 2**-200)."""
    return int.from_bytes(digest(seed, *parts), "big") % k


def shuffled(seed: int | str, items: Iterable, *context: object) -> list:
    """The items in a random order: sorted by the keyed hash of (context, item)."""
    return sorted(items, key=lambda it: (digest(seed, *context, it), str(it)))


def arm_counts(n: int, ratio: Sequence[int], seed: int | str, *context: object) -> list[int]:
    """Split ``n`` into arms in proportion to ``ratio``; the units left over after the whole
    multiples go one each to arms chosen at random (without replacement, in proportion to their
    share of the remainder being the same for all arms: equal chance)."""
    total = sum(ratio)
    base = [n * r // total for r in ratio]
    left = n - sum(base)
    if left:
        order = shuffled(seed, range(len(ratio)), *context, "remainder")
        # arms whose exact share has the larger fractional part come first, ties at random
        order.sort(key=lambda a: -((n * ratio[a]) % total))
        for a in order[:left]:
            base[a] += 1
    return base


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def splitmix64(seed: int | str, counters: np.ndarray, *parts: object) -> np.ndarray:
    """Many keys at once: SplitMix64 (Steele, Lea & Flood 2014) of ``base + (counter + 1) * golden``
    with ``base`` the first 8 bytes of ``digest(seed, *parts)``. Pure 64-bit integer arithmetic
    (wrapping), so it is as version-independent as the HMAC, and vectorised for the thousands of
    candidate allocations of constrained randomisation."""
    base = np.uint64(int.from_bytes(digest(seed, *parts)[:8], "big"))
    with np.errstate(over="ignore"):
        z = base + (np.asarray(counters, dtype=np.uint64) + np.uint64(1)) * _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
        return z ^ (z >> np.uint64(31))

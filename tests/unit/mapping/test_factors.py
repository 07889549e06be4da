"""Divisors from prime factors: equal to brute force where brute force is quick, and fast
(no trial division up to sqrt(n)) for 64-bit primes and semiprimes."""

from __future__ import annotations

import math

import pytest

from accelsim.mapping.factors import divisors, prime_factors


def test_divisors_equal_brute_force() -> None:
    for n in range(1, 2500):
        assert divisors(n) == [d for d in range(1, n + 1) if n % d == 0], n


@pytest.mark.parametrize("n, factors", [
    (2**61 - 1, {2**61 - 1: 1}),                           # a Mersenne prime
    ((2**31 - 1) * (2**31 - 19), {2**31 - 19: 1, 2**31 - 1: 1}),   # two 31-bit primes
    (2**62, {2: 62}),
    (600851475143, {71: 1, 839: 1, 1471: 1, 6857: 1}),
    (3 * 999999000001, {3: 1, 999999000001: 1}),
])
def test_large_bounds_factor_exactly(n: int, factors: dict[int, int]) -> None:
    assert prime_factors(n) == factors
    assert math.prod(p**e for p, e in factors.items()) == n
    d = divisors(n)
    assert d[0] == 1 and d[-1] == n and len(d) == math.prod(e + 1 for e in factors.values())
    assert all(n % x == 0 for x in d)

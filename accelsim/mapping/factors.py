"""Divisors of loop bounds, from their prime factors.

A mapper splits every loop bound into per-level factors, so it needs the divisors of bounds
that the graph allows up to 2**62. Trial division up to sqrt(n) would take minutes for a
large prime; here small primes are divided out and what remains is split by Pollard's rho
(Brent's variant) after a deterministic Miller-Rabin test, in milliseconds for any 64-bit
bound.
"""

from __future__ import annotations

import math
from functools import lru_cache

__all__ = ["prime_factors", "divisors"]

_SMALL = [p for p in range(2, 1000) if all(p % q for q in range(2, math.isqrt(p) + 1))]
# Deterministic Miller-Rabin witnesses for every n below 3.3 * 10**24.
_WITNESSES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41)


def _is_prime(n: int) -> bool:
    if n < 2:
        return False
    for p in _SMALL[:13]:
        if n % p == 0:
            return n == p
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for a in _WITNESSES:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def _rho(n: int) -> int:
    """A non-trivial factor of the odd composite ``n`` (Brent's cycle finding)."""
    for c in range(1, n):
        y, m, g, r, q = 2, 128, 1, 1, 1
        x = ys = y
        while g == 1:
            x = y
            for _ in range(r):
                y = (y * y + c) % n
            k = 0
            while k < r and g == 1:
                ys = y
                for _ in range(min(m, r - k)):
                    y = (y * y + c) % n
                    q = q * abs(x - y) % n
                g = math.gcd(q, n)
                k += m
            r *= 2
        if g == n:
            g = 1
            while g == 1:
                ys = (ys * ys + c) % n
                g = math.gcd(abs(x - ys), n)
        if g != n:
            return g
    raise AssertionError(f"no factor found for {n}")  # pragma: no cover - n is composite


def prime_factors(n: int) -> dict[int, int]:
    """``{prime: exponent}`` of ``n >= 1``."""
    out: dict[int, int] = {}
    for p in _SMALL:
        if p * p > n:
            break
        while n % p == 0:
            out[p] = out.get(p, 0) + 1
            n //= p
    stack = [n] if n > 1 else []
    while stack:
        m = stack.pop()
        if _is_prime(m):
            out[m] = out.get(m, 0) + 1
        else:
            f = _rho(m)
            stack += [f, m // f]
    return dict(sorted(out.items()))


@lru_cache(maxsize=4096)
def _divisors(n: int) -> tuple[int, ...]:
    found = [1]
    for p, e in prime_factors(n).items():
        found = [d * p**k for d in found for k in range(e + 1)]
    return tuple(sorted(found))


def divisors(n: int) -> list[int]:
    """Divisors of ``n >= 1``, ascending."""
    return list(_divisors(n))

"""Unit parsing: each case is a conversion checked by hand."""

import pytest

from accelsim.units import format_si, parse_quantity


@pytest.mark.parametrize("text, kind, expected", [
    ("940 MHz", "frequency", 940e6),
    ("24 MiB", "bytes", 24 * 2**20),
    ("108 kB", "bytes", 108e3),
    ("34 GB/s", "bandwidth", 34e9),
    ("3.35 TB/s", "bandwidth", 3.35e12),
    ("8 Gbit/s", "bandwidth", 1e9),
    ("0.2 pJ", "energy", 0.2e-12),
    ("92 TOPS", "ops_rate", 92e12),
    ("33.6 GMAC/s", "ops_rate", 67.2e9),
    ("28 nm", "length", 28e-9),
    ("0.9 V", "voltage", 0.9),
    ("16 bit", "bytes", 2),
    (1e9, "frequency", 1e9),
    ("1.5e3 Hz", "frequency", 1500.0),
])
def test_parse(text, kind, expected):
    assert parse_quantity(text, kind) == pytest.approx(expected)


@pytest.mark.parametrize("text, kind, fragment", [
    ("34 GB/s", "bytes", "bandwidth"),
    ("12 furlongs", "length", "unknown unit"),
    ("fast", "frequency", "expected a quantity"),
    (True, "frequency", "expected a quantity"),
    ("5 KiHz", "frequency", "unknown unit"),
])
def test_rejects(text, kind, fragment):
    with pytest.raises(ValueError, match=fragment):
        parse_quantity(text, kind)


def test_format_si():
    assert format_si(1.5e-3, "s") == "1.5 ms"
    assert format_si(2.5e12, "OP/s") == "2.5 TOP/s"

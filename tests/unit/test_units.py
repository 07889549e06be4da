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
    (0, "energy", 0.0),          # zero is zero in every unit
    ("0", "power", 0.0),
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
    (1e9, "frequency", "has no unit; a frequency needs one, e.g. '1e[+]09 GHz'"),
    ("2", "bytes", "has no unit; a size in bytes needs one"),
    ("34 GB", "bandwidth", "'34 GB' is a size in bytes, but a bandwidth is needed here"),
])
def test_rejects(text, kind, fragment):
    with pytest.raises(ValueError, match=fragment):
        parse_quantity(text, kind)


def test_bare_number_hint_names_the_field():
    with pytest.raises(ValueError, match="e.g. frequency: 1 GHz$"):
        parse_quantity(1, "frequency", field="frequency")


def test_format_si():
    assert format_si(1.5e-3, "s") == "1.5 ms"
    assert format_si(2.5e12, "OP/s") == "2.5 TOP/s"


@pytest.mark.parametrize("seconds, text", [
    (2.5e6, "2,500,000 s"),      # not '2.5 Ms'
    (1234.4, "1,234 s"),         # not '1.23 ks'
    (999.7, "1,000 s"),
    (12.5, "12.5 s"),
    (2.5e-3, "2.5 ms"),
    (66.048e-6, "66 µs"),
    (3e-9, "3 ns"),
    (2.56e-10, "0.256 ns"),      # not '256 ps'
])
def test_durations_use_s_ms_us_ns(seconds, text):
    assert format_si(seconds, "s") == text


def test_other_units_keep_si_prefixes():
    assert format_si(2.5e6, "J") == "2.5 MJ"
    assert format_si(4e-12, "J") == "4 pJ"
    assert format_si(999.7, "W") == "1 kW"

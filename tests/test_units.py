"""Unit tests for migsim.units: exact units, and errors that name the text and what is allowed."""

from __future__ import annotations

import pytest

from migsim.units import (
    UnitError,
    format_duration,
    format_rate,
    format_size,
    parse_duration,
    parse_rate,
    parse_size,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("512MiB", 512 * 2**20),
        ("512MB", 512 * 10**6),
        ("512 MB", 512 * 10**6),
        (" 1.5 KiB ", 1536),
        ("4k", 4096),
        ("4kB", 4000),
        ("1GiB", 2**30),
        ("1gib", 2**30),
        ("2TB", 2 * 10**12),
        ("4096", 4096),
        ("4096B", 4096),
        ("10 bytes", 10),
        ("1e3", 1000),
        (4096, 4096),
        (4096.0, 4096),
        ("0", 0),
    ],
)
def test_parse_size(text, expected):
    value = parse_size(text)
    assert value == expected
    assert isinstance(value, int)


def test_mb_versus_mib_is_the_papers_32_versus_33_55_seconds():
    # Clark et al. quote 512 MB in decimal megabytes: 32 s at 128 Mbit/s; 512 MiB is 33.55 s.
    rate = parse_rate("128Mbit/s")
    assert parse_size("512MB") * 8 / rate == 32.0
    assert parse_size("512MiB") * 8 / rate == pytest.approx(33.554432, rel=1e-15)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("128Mbit/s", 128e6),
        ("128mbit/s", 128e6),
        ("128Mb/s", 128e6),  # lower-case b: bits
        ("100MB/s", 800e6),  # upper-case B: bytes
        ("1Gbps", 1e9),
        ("1Gbit/s", 1e9),
        ("10kbit/s", 1e4),
        ("8KiB/s", 8 * 8 * 2**10),
        ("1MiB/s", 8 * 2**20),
        ("2.5 Gbit/s", 2.5e9),
        ("1e9", 1e9),
        (1e9, 1e9),
        (100, 100.0),
    ],
)
def test_parse_rate(text, expected):
    assert parse_rate(text) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.2ms", 0.2e-3),
        ("300ms", 0.3),
        ("8s", 8.0),
        ("8 sec", 8.0),
        ("2us", 2e-6),
        ("2µs", 2e-6),
        ("5ns", 5e-9),
        ("1min", 60.0),
        ("1h", 3600.0),
        (".5", 0.5),
        ("1e-3s", 1e-3),
        (0.5, 0.5),
        (0, 0.0),
    ],
)
def test_parse_duration(text, expected):
    assert parse_duration(text) == pytest.approx(expected, rel=1e-15)


@pytest.mark.parametrize(
    ("parser", "text", "words"),
    [
        (parse_size, "12parsecs", ["parsecs", "12parsecs", "mib"]),
        (parse_size, "MiB", ["cannot parse", "MiB"]),
        (parse_size, "-1MiB", ["-1MiB", "non-negative"]),
        (parse_size, "1e400", ["1e400", "finite"]),
        (parse_size, "0.5B", ["0.5B", "whole number"]),
        (parse_size, True, ["boolean"]),
        (parse_rate, "10 furlongs", ["furlongs", "mbit/s"]),
        (parse_rate, "fast", ["cannot parse", "fast", "bit/s"]),
        (parse_rate, "-5Mbit/s", ["-5Mbit/s", "non-negative"]),
        (parse_rate, "inf", ["inf"]),
        (parse_duration, "2 fortnights", ["fortnights", "ms"]),
        (parse_duration, "2MS", ["2MS", "unknown"]),  # case matters for durations
        (parse_duration, "-1s", ["-1s", "non-negative"]),
        (parse_duration, "nan", ["nan"]),
        (parse_duration, float("nan"), ["nan", "finite"]),
        (parse_duration, "", ["cannot parse"]),
    ],
)
def test_bad_quantities_name_the_text_and_the_allowed_units(parser, text, words):
    with pytest.raises(UnitError) as info:
        parser(text)
    # compared case-insensitively: parse_rate echoes the text with its unit lower-cased
    message = str(info.value).lower()
    for word in words:
        assert word.lower() in message, (word, message)


def test_unit_error_is_a_value_error():
    assert issubclass(UnitError, ValueError)


@pytest.mark.parametrize(
    ("nbytes", "text"),
    [(536870912, "512MiB"), (2**30, "1GiB"), (1536, "1.5KiB"), (1000, "1000B"), (0, "0B")],
)
def test_format_size(nbytes, text):
    assert format_size(nbytes) == text


@pytest.mark.parametrize(
    ("bps", "text"),
    [(1.28e8, "128Mbit/s"), (1e9, "1Gbit/s"), (2.5e3, "2.5kbit/s"), (10, "10bit/s")],
)
def test_format_rate(bps, text):
    assert format_rate(bps) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(2.0, "2s"), (0.0, "0s"), (0.005, "5ms"), (0.0002, "200us"), (3e-6, "3us")],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize("nbytes", [4096, 1536, 2**20, 512 * 2**20, 3 * 2**30])
def test_size_round_trip(nbytes):
    assert parse_size(format_size(nbytes)) == nbytes


@pytest.mark.parametrize("bps", [128e6, 1e9, 2.5e3, 10.0])
def test_rate_round_trip(bps):
    assert parse_rate(format_rate(bps)) == pytest.approx(bps, rel=1e-12)


@pytest.mark.parametrize("seconds", [2.0, 0.3, 0.005, 2e-4, 3e-6])
def test_duration_round_trip(seconds):
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds, rel=1e-12)


@pytest.mark.parametrize(
    ("text", "bps"),
    [
        ("1GBps", 8e9),
        ("100MBps", 800e6),
        ("1Gbps", 1e9),
        ("8KiB/s", 8 * 8 * 1024),
        ("2MiB/s", 2 * 8 * 2**20),
        ("3kb/s", 3e3),
        ("3kB/s", 24e3),
    ],
)
def test_rate_bytes_and_bits_follow_the_case_of_b(text, bps):
    assert parse_rate(text) == pytest.approx(bps)


def test_rate_errors_echo_the_text_as_typed_and_list_real_units():
    with pytest.raises(UnitError) as err:
        parse_rate("-5Mbit/s")
    assert "'-5Mbit/s'" in str(err.value)
    with pytest.raises(UnitError) as err:
        parse_rate("5Mbats/s")
    assert "'Mbats/s'" in str(err.value) and "MiB/s" in str(err.value)
    for unit in ("kbit/s", "Mbps", "GB/s", "KiB/s"):
        assert parse_rate(f"2{unit}") > 0

"""Parse and print sizes, rates and durations.

One small parser, so that configs and the command line can say ``512MiB``, ``128Mbit/s`` or
``0.2ms``. Units are exact: ``MB`` is 10**6 bytes and ``MiB`` is 2**20 bytes (Clark et al. quote
their 512 MB VM in decimal megabytes; 512 MiB takes 33.55 s at 128 Mbit/s, 512 MB takes 32 s).

All parsers accept a plain number (already in the base unit: bytes, bit/s, seconds) and raise
:class:`UnitError` naming the text and the allowed units otherwise.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable

__all__ = [
    "UnitError",
    "format_duration",
    "format_rate",
    "format_size",
    "parse_duration",
    "parse_rate",
    "parse_size",
]


class UnitError(ValueError):
    """A quantity could not be parsed; the message names the text and the allowed units."""


_SIZE_UNITS: dict[str, float] = {
    "": 1,
    "b": 1,
    "byte": 1,
    "bytes": 1,
    "kb": 1e3,
    "mb": 1e6,
    "gb": 1e9,
    "tb": 1e12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
    "k": 2**10,
    "m": 2**20,
    "g": 2**30,
}

# rates: a decimal (k, M, G, T) or binary (Ki, Mi, Gi) prefix, then bits ("bit", "b") or bytes
# ("B"), then "/s" or "ps". Case matters for b/B only; "bps" and "bit/s" alone are bits.
_RATE_RE = re.compile(r"^(?P<prefix>[kKmMgGtT]i?)?(?P<base>bit|b|B)(?:/s|ps)$")
_RATE_PREFIX = {
    "": 1.0,
    "k": 1e3,
    "m": 1e6,
    "g": 1e9,
    "t": 1e12,
    "ki": 2.0**10,
    "mi": 2.0**20,
    "gi": 2.0**30,
    "ti": 2.0**40,
}
_RATE_EXAMPLES = (
    "bit/s, kbit/s, Mbit/s, Gbit/s, bps, kbps, Mbps, Gbps (bits); "
    "B/s, kB/s, MB/s, GB/s, KiB/s, MiB/s, GiB/s, MBps, GBps (bytes)"
)

_DURATION_UNITS: dict[str, float] = {
    "": 1,
    "s": 1,
    "sec": 1,
    "ms": 1e-3,
    "us": 1e-6,
    "µs": 1e-6,
    "ns": 1e-9,
    "min": 60,
    "h": 3600,
}

_NUM = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([^\s\d].*?)?\s*$")


def _parse(
    text: str | float | int, kind: str, factor_of: Callable[[str], float | None], allowed: str
) -> float:
    """A non-negative finite quantity: a plain number (base unit) or a number and a unit whose
    factor ``factor_of`` gives (None for an unknown unit)."""
    if isinstance(text, bool):
        raise UnitError(f"expected a {kind}, got boolean {text!r}")
    if isinstance(text, int | float):
        value = float(text)
    else:
        m = _NUM.match(str(text))
        if not m:
            raise UnitError(
                f"cannot parse {kind} {text!r}: expected a number and one of the units {allowed}"
            )
        unit = m.group(2) or ""
        factor = factor_of(unit)
        if factor is None:
            raise UnitError(f"unknown {kind} unit {unit!r} in {text!r}; allowed units: {allowed}")
        value = float(m.group(1)) * factor
    if not math.isfinite(value) or value < 0:
        raise UnitError(f"{kind} {text!r} must be a finite, non-negative number")
    return value


def _listing(table: dict[str, float]) -> str:
    return ", ".join(repr(u) for u in table if u)


def _rate_factor(unit: str) -> float | None:
    if not unit:
        return 1.0
    u = _RATE_RE.match(unit)
    if not u:
        return None
    factor = _RATE_PREFIX[(u.group("prefix") or "").lower()]
    return factor * 8 if u.group("base") == "B" else factor


def parse_size(text: str | float | int) -> int:
    """Parse a size such as ``"512MiB"``, ``"512MB"`` or ``4096`` to whole bytes."""
    value = _parse(text, "size", lambda u: _SIZE_UNITS.get(u.lower()), _listing(_SIZE_UNITS))
    if value != int(value):
        raise UnitError(f"size {text!r} is not a whole number of bytes")
    return int(value)


def parse_rate(text: str | float | int) -> float:
    """Parse a rate such as ``"128Mbit/s"``, ``"1Gbps"`` or ``"100MB/s"`` (bytes) to bit/s."""
    return _parse(text, "rate", _rate_factor, _RATE_EXAMPLES)


def parse_duration(text: str | float | int) -> float:
    """Parse a duration such as ``"0.2ms"``, ``"8s"`` or ``0.5`` to seconds."""
    return _parse(text, "duration", _DURATION_UNITS.get, _listing(_DURATION_UNITS))


def format_size(nbytes: float) -> str:
    """Print a byte count with a binary prefix (``536870912`` -> ``"512MiB"``)."""
    for unit, factor in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= factor:
            return f"{nbytes / factor:g}{unit}"
    return f"{nbytes:g}B"


def format_rate(bps: float) -> str:
    """Print a rate in bit/s with a decimal prefix (``1.28e8`` -> ``"128Mbit/s"``)."""
    for unit, factor in (("Gbit/s", 1e9), ("Mbit/s", 1e6), ("kbit/s", 1e3)):
        if bps >= factor:
            return f"{bps / factor:g}{unit}"
    return f"{bps:g}bit/s"


def format_duration(seconds: float) -> str:
    """Print a duration (``0.002`` -> ``"2ms"``, ``0.0002`` -> ``"200us"``)."""
    if seconds >= 1 or seconds == 0:
        return f"{seconds:g}s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:g}ms"
    return f"{seconds * 1e6:g}us"

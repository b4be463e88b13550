"""Declared options: each a dataclass field that carries its unit, range, source and meaning.

A strategy's options are a frozen dataclass whose fields are made with :func:`option`. From
those declarations come, with no second list to keep in step: parsing and validation of a
mapping (:func:`parse_options`, used by :func:`migsim.config.from_mapping`), the ``--help``
text of ``migsim run``, the strategy part of ``workflow/schemas/config.schema.yaml`` and the
parameter tables of ``docs/model.md`` (:func:`describe`, written by ``tools/sync_options.py``).

Units: a rate, duration or size given as *text* must carry its unit (``"300ms"``,
``"100Mbit/s"``): ``"300"`` is refused, because a downtime limit of 300 s or a rate of
300 bit/s is never what was meant. A Python number is taken in the base unit (bit/s, seconds,
bytes), as :func:`migsim.config.to_mapping` writes it.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from migsim.units import (
    UnitError,
    format_duration,
    format_rate,
    format_size,
    parse_duration,
    parse_rate,
    parse_size,
)

__all__ = [
    "ConfigError",
    "OptionInfo",
    "as_bool",
    "as_number",
    "describe",
    "option",
    "option_infos",
    "parse_options",
]

#: option kinds whose text needs a unit: the parser, the unit's name, examples
_UNIT_KINDS = {
    "rate": (parse_rate, "bit/s", "e.g. 100Mbit/s, 1Gbit/s, 50MB/s"),
    "duration": (parse_duration, "s", "e.g. 300ms, 2us, 30s"),
    "size": (parse_size, "bytes", "e.g. 64KiB, 1MiB"),
}
_KINDS = ("rate", "duration", "size", "int", "float", "bool", "choice")
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


class ConfigError(ValueError):
    """A configuration key or value is invalid; the message names it and what is allowed.
    (Defined here, below :mod:`migsim.config`, which re-exports it, so that option parsing
    and every strategy's checks raise the one error callers catch.)"""


@dataclass(frozen=True)
class OptionInfo:
    """What an option is: its kind, unit, range, source and one-line meaning.

    kind: ``rate`` (bit/s), ``duration`` (s), ``size`` (bytes), ``int``, ``float``, ``bool``
        or ``choice`` (one of ``choices``).
    unit: the unit shown in docs and help for ``int``/``float`` options (``rounds``,
        ``pages``, ``fraction``, ``x memory``); rate/duration/size options have their own.
    lo, hi: allowed range (None: unbounded); ``lo_open``/``hi_open`` exclude the bound.
    bare: text without a unit is accepted in the base unit (sizes named ``*_bytes``).
    shown: how docs and help print the default, where the base unit reads badly (``1MiB/s``
    rather than ``8.38861Mbit/s``); it must parse to the default.
    """

    kind: str
    help: str
    source: str
    unit: str = ""
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False
    choices: tuple[str, ...] = ()
    bare: bool = False
    shown: str = ""

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"unknown option kind {self.kind!r}; allowed: {', '.join(_KINDS)}")

    @property
    def unit_name(self) -> str:
        """The unit as docs and help print it."""
        if self.kind in _UNIT_KINDS:
            return _UNIT_KINDS[self.kind][1]
        if self.kind == "choice":
            return ", ".join(f"`{c}`" for c in self.choices)
        if self.kind == "bool":
            return "bool"
        return self.unit or "-"

    def range_text(self) -> str:
        """The allowed range in words (empty when unbounded)."""
        if self.lo is not None and self.hi is not None:
            what = "a fraction in " if self.unit == "fraction" else ""
            return (
                f"{what}{'(' if self.lo_open else '['}{self.format(self.lo)}, "
                f"{self.format(self.hi)}{')' if self.hi_open else ']'}"
            )
        parts = []
        if self.lo is not None:
            parts.append(f"{'>' if self.lo_open else '>='} {self.format(self.lo)}")
        if self.hi is not None:
            parts.append(f"{'<' if self.hi_open else '<='} {self.format(self.hi)}")
        return " and ".join(parts)

    def format(self, value: Any) -> str:
        """``value`` (in the base unit) as text that parses back to it."""
        if self.kind == "rate":
            return format_rate(value)
        if self.kind == "duration":
            return format_duration(value)
        if self.kind == "size" and not self.bare:
            return format_size(value)
        if self.kind == "bool":
            return "true" if value else "false"
        if isinstance(value, float) and math.isfinite(value) and value == int(value):
            return f"{value:g}" if abs(value) < 1e15 else repr(value)
        return str(value)


def option(default: Any, *, kind: str, help: str, source: str, **info: Any) -> Any:
    """A dataclass field declaring one option (see :class:`OptionInfo` for ``info``)."""
    meta = OptionInfo(kind=kind, help=help, source=source, **info)
    return field(default=default, metadata={"option": meta})


@functools.cache
def option_infos(cls: type) -> dict[str, OptionInfo]:
    """The declared options of an options dataclass, in field order (cached: read only)."""
    return {f.name: f.metadata["option"] for f in fields(cls) if "option" in f.metadata}


def as_bool(name: str, value: Any) -> bool:
    """``value`` as a bool (``true``/``yes``/``on``/``1`` and their opposites, or 0/1);
    :class:`ConfigError` naming ``name`` otherwise."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _TRUE + _FALSE:
        return value.lower() in _TRUE
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise ConfigError(f"{name}: expected true or false, got {value!r}")


def as_number(name: str, value: Any, integer: bool) -> float | int:
    """``value`` as a float, or with ``integer`` a whole number (an int); NaN, booleans and
    text that is no number are refused with :class:`ConfigError` naming ``name``."""
    if isinstance(value, bool):
        raise ConfigError(f"{name}: expected a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: expected a number, got {value!r}") from None
    if number != number or (integer and math.isinf(number)):
        what = "a whole number" if integer else "a number"
        raise ConfigError(f"{name}: expected {what}, got {value!r}")
    if integer:
        if number != int(number):
            raise ConfigError(f"{name}: expected a whole number, got {value!r}")
        return int(number)
    return number


def convert(name: str, info: OptionInfo, value: Any) -> Any:
    """Parse ``value`` of the option ``name`` (a dotted key, for messages) and check its
    range; raises :class:`ConfigError` naming the key and what is allowed."""
    if info.kind == "choice":
        if value not in info.choices:
            raise ConfigError(f"{name}: {value!r} is not one of {', '.join(info.choices)}")
        return value
    if info.kind == "bool":
        return as_bool(name, value)
    if info.kind in _UNIT_KINDS:
        parse, _, examples = _UNIT_KINDS[info.kind]
        if isinstance(value, str) and not info.bare:
            text = value.strip()
            try:
                float(text)
            except ValueError:
                pass
            else:
                raise ConfigError(
                    f"{name}: {value!r} has no unit; give the {info.kind} with its unit "
                    f"({examples})"
                )
        try:
            out: Any = parse(value)
        except UnitError as exc:
            raise ConfigError(f"{name}: {exc}") from None
    else:
        out = as_number(name, value, integer=info.kind == "int")
    lo_bad = info.lo is not None and (out <= info.lo if info.lo_open else out < info.lo)
    hi_bad = info.hi is not None and (out >= info.hi if info.hi_open else out > info.hi)
    if lo_bad or hi_bad:
        raise ConfigError(f"{name}: {value!r} is out of range; allowed: {info.range_text()}")
    return out


def parse_options(
    cls: type, values: Mapping[str, Any], *, section: str, owner: str, **fixed: Any
) -> Any:
    """Build the options dataclass ``cls`` from ``values`` (unknown keys and bad values raise
    :class:`ConfigError` naming ``section.key``; ``owner`` names whose options these are in
    the message, e.g. ``strategy post_copy``). ``fixed`` are non-option fields."""
    infos = option_infos(cls)
    kwargs: dict[str, Any] = dict(fixed)
    for key, value in values.items():
        info = infos.get(key)
        if info is None:
            raise ConfigError(
                f"unknown key {section}.{key} for {owner}; allowed keys: "
                f"{', '.join(infos) or '(none)'}"
            )
        kwargs[key] = convert(f"{section}.{key}", info, value)
    return cls(**kwargs)


def describe(cls: type) -> list[dict[str, Any]]:
    """One dict per option of ``cls``: name, kind, unit, default (as text), range, choices,
    help, source. What ``--help``, the schema and the docs tables are made of."""
    out = []
    defaults = {f.name: f.default for f in fields(cls)}
    for name, info in option_infos(cls).items():
        default = defaults[name]
        if default is dataclasses.MISSING:  # pragma: no cover - every option has a default
            raise ValueError(f"option {name} has no default")
        out.append(
            {
                "name": name,
                "kind": info.kind,
                "unit": info.unit_name,
                "default": default,
                "default_text": info.shown or info.format(default),
                "range": info.range_text(),
                "choices": info.choices,
                "help": info.help,
                "source": info.source,
                "info": info,
            }
        )
    return out

"""Scenario files (TOML, format version 1): read, validate, write.

Every error names the file, the line and the field, e.g.
``eu.toml:42: links[3].b: unknown site 'CAP-XX'``. The format is documented in
``docs/network.md``; ``dump_scenario`` writes the same format back.
"""

from __future__ import annotations

import difflib
import math
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from euroqci.errors import ConfigurationError
from euroqci.network.geo import great_circle_km
from euroqci.network.scenario import (
    DEFAULT_ROUTE_FACTOR,
    DeviceProfile,
    FibreLink,
    LengthSource,
    LinkMedium,
    PlanningOptions,
    Scenario,
    Site,
    SiteKind,
)

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "dump_scenario", "load_scenario", "parse_scenario"]

FORMAT_NAME = "euroqci-scenario"
FORMAT_VERSION = 1

_TOP_KEYS = {"format", "version", "name", "description", "planning", "profiles", "sites"}
_TOP_KEYS |= {"links", "trusted_nodes"}
_PLANNING_KEYS = {"accumulation_time_s", "max_span_fraction", "insert_trusted_nodes"}
_PROFILE_KEYS = {"spec", "max_span_km", "description"}
_SITE_KEYS = {"id", "name", "country", "lat_deg", "lon_deg", "kind", "outermost_region", "notes"}
_LINK_KEYS = {"id", "a", "b", "profile", "length_km", "route_factor", "medium"}
#: Finds the line (1-based) of a key in the current table, or of the table itself for None.
LineOf = Callable[[str | None], int | None]

_UNIT_SUFFIXES = ("_km", "_m", "_s", "_ms", "_deg", "_rad", "_db", "_hz", "_bps")
_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")


def _stem(key: str) -> str:
    """A key without its unit suffix (``length_km`` -> ``length``)."""
    for suffix in _UNIT_SUFFIXES:
        if key.endswith(suffix):
            return key[: -len(suffix)]
    return key


class _Locator:
    """Finds the line of a table, an array-of-tables item or a key in the raw TOML text.

    tomllib returns plain dicts without positions, so the text is scanned once for headers.
    """

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.headers: list[tuple[int, bool, str]] = []  # (line index, is_array, name)
        for i, line in enumerate(self.lines):
            m = _HEADER.match(line)
            if m:
                name = ".".join(p.strip().strip('"').strip("'") for p in m.group(2).split("."))
                self.headers.append((i, m.group(1) == "[[", name))

    def _block(self, start: int) -> range:
        following = [h[0] for h in self.headers if h[0] > start]
        return range(start + 1, following[0] if following else len(self.lines))

    def _key_in(self, lines: range, key: str) -> int | None:
        pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*=")
        for i in lines:
            if pattern.match(self.lines[i]):
                return i + 1
        return None

    def item(self, table: str, index: int, key: str | None = None) -> int | None:
        """Line (1-based) of ``[[table]]`` number ``index``, or of ``key`` inside it."""
        starts = [h[0] for h in self.headers if h[1] and h[2] == table]
        if index >= len(starts):
            return None
        if key is not None:
            found = self._key_in(self._block(starts[index]), key)
            if found is not None:
                return found
        return starts[index] + 1

    def table(self, name: str, key: str | None = None) -> int | None:
        """Line (1-based) of ``[name]`` or of ``key`` inside it; top level when name is ''."""
        if name == "":
            first = self.headers[0][0] if self.headers else len(self.lines)
            return self._key_in(range(first), key) if key else None
        for start, is_array, header in self.headers:
            if not is_array and header == name:
                if key is not None:
                    found = self._key_in(self._block(start), key)
                    if found is not None:
                        return found
                return start + 1
        return None


class _Reader:
    """Validates the parsed document, raising errors that carry file, line and field."""

    def __init__(self, text: str, source: str) -> None:
        self.source = source
        self.loc = _Locator(text)

    def table_lines(self, name: str) -> LineOf:
        """Line finder for keys of the table ``[name]`` ('' for the top level)."""
        return lambda key: self.loc.table(name, key)

    def item_lines(self, table: str, index: int) -> LineOf:
        """Line finder for keys of the ``index``-th ``[[table]]``."""
        return lambda key: self.loc.item(table, index, key)

    def fail(self, field: str, message: str, line: int | None) -> ConfigurationError:
        where = f"{self.source}:{line}" if line else self.source
        return ConfigurationError(f"{where}: {field}: {message}", field=field)

    def check_keys(
        self, data: Mapping[str, Any], allowed: set[str], prefix: str, line_of: LineOf
    ) -> None:
        for key in data:
            if key in allowed:
                continue
            unit_twin = sorted(
                k for k in allowed if _stem(k) != k and _stem(k) in (key, _stem(key))
            )
            if unit_twin:
                hint = f"bad unit: give {unit_twin[0]} (the unit is part of the name)"
            else:
                close = difflib.get_close_matches(key, sorted(allowed), n=1)
                hint = "unknown field" + (f"; did you mean {close[0]!r}?" if close else "")
                hint += f" (expected one of: {', '.join(sorted(allowed))})"
            raise self.fail(f"{prefix}{key}", hint, line_of(key))

    def number(
        self,
        data: Mapping[str, Any],
        key: str,
        prefix: str,
        line_of: LineOf,
        *,
        unit: str,
        low: float | None = None,
        high: float | None = None,
        low_open: bool = False,
    ) -> float:
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise self.fail(
                f"{prefix}{key}", f"expected a number in {unit}, got {value!r}", line_of(key)
            )
        bad_low = low is not None and (value <= low if low_open else value < low)
        if bad_low or (high is not None and value > high):
            lo = "-inf" if low is None else f"{low:g}"
            hi = "inf" if high is None else f"{high:g}"
            bracket = "(" if low_open else "["
            raise self.fail(
                f"{prefix}{key}",
                f"expected a value in {bracket}{lo}, {hi}] {unit}, got {value!r}",
                line_of(key),
            )
        return float(value)

    def text(
        self,
        data: Mapping[str, Any],
        key: str,
        prefix: str,
        line_of: LineOf,
        *,
        default: str | None,
    ) -> str:
        if key not in data:
            if default is None:
                raise self.fail(f"{prefix}{key}", "missing (a string is required)", line_of(None))
            return default
        value = data[key]
        if not isinstance(value, str) or (default is None and not value.strip()):
            raise self.fail(
                f"{prefix}{key}", f"expected a non-empty string, got {value!r}", line_of(key)
            )
        return value

    def choice(
        self, data: Mapping[str, Any], key: str, prefix: str, line_of: LineOf, enum_type: Any
    ) -> Any:
        value = data[key]
        options = [e.value for e in enum_type]
        if value not in options:
            raise self.fail(
                f"{prefix}{key}",
                f"expected one of {', '.join(options)}, got {value!r}",
                line_of(key),
            )
        return enum_type(value)


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario TOML file.

    Raises
    ------
    ConfigurationError
        Naming the file, line and field of the first problem found.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read scenario: {exc.strerror}") from None
    return parse_scenario(text, source=str(path))


def parse_scenario(text: str, *, source: str = "<scenario>") -> Scenario:
    """Validate a scenario given as TOML text (see ``load_scenario``)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{source}: not valid TOML: {exc}") from None
    r = _Reader(text, source)
    top = r.table_lines("")
    r.check_keys(doc, _TOP_KEYS, "", top)
    if doc.get("format", FORMAT_NAME) != FORMAT_NAME:
        raise r.fail("format", f"expected {FORMAT_NAME!r}, got {doc['format']!r}", top("format"))
    if "version" not in doc:
        raise r.fail("version", f"missing: add `version = {FORMAT_VERSION}` at the top", 1)
    if doc["version"] != FORMAT_VERSION:
        raise r.fail(
            "version",
            f"this EuroQCI reads scenario format version {FORMAT_VERSION}, got {doc['version']!r}",
            top("version"),
        )
    name = r.text(doc, "name", "", top, default=Path(source).stem)
    description = r.text(doc, "description", "", top, default="")
    options = _read_planning(r, doc.get("planning", {}))
    profiles = _read_profiles(r, doc.get("profiles", {}))
    sites = _read_sites(r, doc)
    links = _read_links(r, doc.get("links", []), sites, profiles)
    return Scenario(
        name=name,
        description=description,
        sites=tuple(sites.values()),
        links=tuple(links),
        profiles=profiles,
        options=options,
        version=FORMAT_VERSION,
    )


def _read_planning(r: _Reader, data: Any) -> PlanningOptions:
    line_of = r.table_lines("planning")
    if not isinstance(data, dict):
        raise r.fail("planning", "expected a table [planning]", line_of(None))
    r.check_keys(data, _PLANNING_KEYS, "planning.", line_of)
    kwargs: dict[str, Any] = {}
    if "accumulation_time_s" in data:
        kwargs["accumulation_time_s"] = r.number(
            data, "accumulation_time_s", "planning.", line_of, unit="s", low=0, low_open=True
        )
    if "max_span_fraction" in data:
        kwargs["max_span_fraction"] = r.number(
            data, "max_span_fraction", "planning.", line_of, unit="", low=0, high=1, low_open=True
        )
    if "insert_trusted_nodes" in data:
        if not isinstance(data["insert_trusted_nodes"], bool):
            raise r.fail(
                "planning.insert_trusted_nodes",
                "expected true or false",
                line_of("insert_trusted_nodes"),
            )
        kwargs["insert_trusted_nodes"] = data["insert_trusted_nodes"]
    return PlanningOptions(**kwargs)


def _read_profiles(r: _Reader, data: Any) -> dict[str, DeviceProfile]:
    from euroqci.network.rates import validate_profile_spec

    if not isinstance(data, dict):
        raise r.fail("profiles", "expected tables [profiles.NAME]", None)
    profiles: dict[str, DeviceProfile] = {}
    for name, body in data.items():
        prefix = f"profiles.{name}."
        line_of = r.table_lines(f"profiles.{name}")
        if not isinstance(body, dict) or not isinstance(body.get("spec"), dict):
            raise r.fail(f"profiles.{name}", "expected a table with a `spec` table", line_of(None))
        r.check_keys(body, _PROFILE_KEYS, prefix, line_of)
        max_span = None
        if "max_span_km" in body:
            max_span = r.number(
                body, "max_span_km", prefix, line_of, unit="km", low=0, low_open=True
            )
        try:
            validate_profile_spec(body["spec"])
        except ConfigurationError as exc:
            spec_line = r.loc.table(f"profiles.{name}.spec") or line_of("spec")
            parts = exc.field.split(".") if exc.field else []
            for depth in range(len(parts) - 1, -1, -1):  # the deepest table that names the key
                table = ".".join(["profiles", name, "spec", *parts[:depth]])
                found = r.loc.table(table, parts[depth])
                if found is not None and found != r.loc.table(table):
                    spec_line = found
                    break
            message = str(exc).removeprefix(f"{exc.field}: ") if exc.field else str(exc)
            raise r.fail(f"{prefix}spec.{exc.field}".rstrip("."), message, spec_line) from None
        profiles[name] = DeviceProfile(name=name, spec=body["spec"], max_span_km=max_span)
    return profiles


def _read_sites(r: _Reader, doc: Mapping[str, Any]) -> dict[str, Site]:
    sites: dict[str, Site] = {}
    for table in ("sites", "trusted_nodes"):
        items = doc.get(table, [])
        if not isinstance(items, list):
            raise r.fail(table, f"expected [[{table}]] tables", None)
        for index, item in enumerate(items):
            site = _read_site(r, table, index, item)
            if site.id in sites:
                raise r.fail(
                    f"{table}[{index}].id",
                    f"duplicate site id {site.id!r} (ids must be unique across sites and "
                    "trusted_nodes)",
                    r.loc.item(table, index, "id"),
                )
            sites[site.id] = site
    if not sites:
        raise r.fail("sites", "no sites: add at least two [[sites]] tables", None)
    return sites


def _read_site(r: _Reader, table: str, index: int, item: Any) -> Site:
    prefix = f"{table}[{index}]."
    line_of = r.item_lines(table, index)
    if not isinstance(item, dict):
        raise r.fail(f"{table}[{index}]", "expected a table", line_of(None))
    allowed = _SITE_KEYS - {"kind"} if table == "trusted_nodes" else _SITE_KEYS
    r.check_keys(item, allowed, prefix, line_of)
    site_id = r.text(item, "id", prefix, line_of, default=None)
    for key in ("lat_deg", "lon_deg"):
        if key not in item:
            raise r.fail(f"{prefix}{key}", "missing (decimal degrees, WGS84)", line_of(None))
    kind = SiteKind.TRUSTED_NODE
    if table == "sites":
        if "kind" not in item:
            raise r.fail(f"{prefix}kind", 'missing (e.g. kind = "capital")', line_of(None))
        kind = r.choice(item, "kind", prefix, line_of, SiteKind)
    outermost = item.get("outermost_region", False)
    if not isinstance(outermost, bool):
        raise r.fail(f"{prefix}outermost_region", "expected true or false", line_of("outermost"))
    return Site(
        id=site_id,
        name=r.text(item, "name", prefix, line_of, default=site_id),
        country=r.text(item, "country", prefix, line_of, default=""),
        lat_deg=r.number(item, "lat_deg", prefix, line_of, unit="degrees", low=-90, high=90),
        lon_deg=r.number(item, "lon_deg", prefix, line_of, unit="degrees", low=-180, high=180),
        kind=kind,
        outermost_region=outermost,
        notes=r.text(item, "notes", prefix, line_of, default=""),
    )


def _read_links(
    r: _Reader, items: Any, sites: Mapping[str, Site], profiles: Mapping[str, DeviceProfile]
) -> list[FibreLink]:
    if not isinstance(items, list):
        raise r.fail("links", "expected [[links]] tables", None)
    links: list[FibreLink] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        prefix = f"links[{index}]."
        line_of = r.item_lines("links", index)
        if not isinstance(item, dict):
            raise r.fail(f"links[{index}]", "expected a table", line_of(None))
        r.check_keys(item, _LINK_KEYS, prefix, line_of)
        ends = []
        for key in ("a", "b"):
            site_id = r.text(item, key, prefix, line_of, default=None)
            if site_id not in sites:
                close = difflib.get_close_matches(site_id, list(sites), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise r.fail(f"{prefix}{key}", f"unknown site {site_id!r}{hint}", line_of(key))
            ends.append(site_id)
        if ends[0] == ends[1]:
            raise r.fail(f"{prefix}b", "a link needs two different sites", line_of("b"))
        link_id = r.text(item, "id", prefix, line_of, default=f"{ends[0]}--{ends[1]}")
        if link_id in seen:
            raise r.fail(f"{prefix}id", f"duplicate link id {link_id!r}", line_of("id"))
        if link_id in sites:
            raise r.fail(
                f"{prefix}id",
                f"link id {link_id!r} is also a site id; failure reports need distinct ids",
                line_of("id"),
            )
        seen.add(link_id)
        profile = r.text(item, "profile", prefix, line_of, default=None)
        if profile not in profiles:
            known = ", ".join(profiles) or "none defined"
            raise r.fail(
                f"{prefix}profile",
                f"unknown profile {profile!r} (profiles: {known})",
                line_of("profile"),
            )
        medium = LinkMedium.TERRESTRIAL
        if "medium" in item:
            medium = r.choice(item, "medium", prefix, line_of, LinkMedium)
        links.append(_link_length(r, item, prefix, line_of, ends, sites, link_id, profile, medium))
    return links


def _link_length(
    r: _Reader,
    item: Mapping[str, Any],
    prefix: str,
    line_of: LineOf,
    ends: list[str],
    sites: Mapping[str, Site],
    link_id: str,
    profile: str,
    medium: LinkMedium,
) -> FibreLink:
    route_factor = None
    if "route_factor" in item:
        route_factor = r.number(item, "route_factor", prefix, line_of, unit="(ratio)", low=1)
    if "length_km" in item:
        if route_factor is not None:
            raise r.fail(
                f"{prefix}route_factor",
                "give either length_km or route_factor, not both",
                line_of("route_factor"),
            )
        length = r.number(item, "length_km", prefix, line_of, unit="km", low=0, low_open=True)
        source = LengthSource.GIVEN
    else:
        route_factor = DEFAULT_ROUTE_FACTOR if route_factor is None else route_factor
        a, b = sites[ends[0]], sites[ends[1]]
        length = route_factor * great_circle_km(a.lat_deg, a.lon_deg, b.lat_deg, b.lon_deg)
        source = LengthSource.GREAT_CIRCLE
    return FibreLink(
        id=link_id,
        a=ends[0],
        b=ends[1],
        profile=profile,
        length_km=round(length, 3),
        length_source=source,
        route_factor=route_factor,
        medium=medium,
    )


def dump_scenario(scenario: Scenario) -> str:
    """The scenario as TOML text in format version 1 (round-trips through ``parse_scenario``)."""
    out = [
        f"format = {_toml(FORMAT_NAME)}",
        f"version = {FORMAT_VERSION}",
        f"name = {_toml(scenario.name)}",
    ]
    if scenario.description:
        out.append(f"description = {_toml(scenario.description)}")
    o = scenario.options
    out += [
        "",
        "[planning]",
        f"accumulation_time_s = {o.accumulation_time_s!r}",
        f"max_span_fraction = {o.max_span_fraction!r}",
        f"insert_trusted_nodes = {_toml(o.insert_trusted_nodes)}",
    ]
    for profile in scenario.profiles.values():
        out += ["", f"[profiles.{_key(profile.name)}]"]
        if profile.max_span_km is not None:
            out.append(f"max_span_km = {profile.max_span_km!r}")
        out += _dump_table(f"profiles.{_key(profile.name)}.spec", profile.spec)
    for site in scenario.sites:
        out += ["", "[[sites]]"]
        out += [f"{k} = {_toml(v)}" for k, v in site.to_dict().items() if v not in ("", False)]
    for link in scenario.links:
        out += ["", "[[links]]"]
        out += [f"id = {_toml(link.id)}", f"a = {_toml(link.a)}", f"b = {_toml(link.b)}"]
        out += [f"profile = {_toml(link.profile)}", f"medium = {_toml(link.medium.value)}"]
        if link.length_source is LengthSource.GREAT_CIRCLE and link.route_factor is not None:
            out.append(f"route_factor = {link.route_factor!r}")
        else:
            out.append(f"length_km = {link.length_km!r}")
    return "\n".join(out) + "\n"


def _dump_table(name: str, table: Mapping[str, Any]) -> list[str]:
    plain = {k: v for k, v in table.items() if not isinstance(v, Mapping)}
    nested = {k: v for k, v in table.items() if isinstance(v, Mapping)}
    lines = ["", f"[{name}]"] + [f"{_key(k)} = {_toml(v)}" for k, v in plain.items()]
    for key, sub in nested.items():
        lines += _dump_table(f"{name}.{_key(key)}", sub)
    return lines


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml(key)


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")

"""Car profile for OpenStreetMap roads: which ways are drivable, in which direction, how fast.

The rules follow OSRM's car profile (``profiles/car.lua``, v5): its per-class speeds, its access
tag hierarchy and its 0.8 reduction of posted limits, with the French limits for ``FR:*`` values.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from geo.errors import DataValidationError

__all__ = [
    "DEFAULT_PROFILE",
    "HIGHWAY_SPEED_KMH",
    "IMPLIED_MAXSPEED_KMH",
    "MAXSPEED_FACTOR",
    "NO_SNAP_HIGHWAYS",
    "RoadProfile",
    "parse_maxspeed",
    "tag_rules_digest",
]

#: Typical car speed per ``highway`` class when no ``maxspeed`` is tagged (km/h): OSRM car
#: profile defaults, i.e. mean travel speeds with junctions and traffic, not legal limits.
HIGHWAY_SPEED_KMH: Mapping[str, float] = MappingProxyType(
    {
        "motorway": 90.0,
        "motorway_link": 45.0,
        "trunk": 85.0,
        "trunk_link": 40.0,
        "primary": 65.0,
        "primary_link": 30.0,
        "secondary": 55.0,
        "secondary_link": 25.0,
        "tertiary": 40.0,
        "tertiary_link": 20.0,
        "unclassified": 25.0,
        "residential": 25.0,
        "living_street": 10.0,
        "service": 15.0,
    }
)

#: A posted limit is not a travel speed: tagged ``maxspeed`` values are multiplied by this
#: factor (OSRM car profile's ``speed_reduction``), e.g. 50 → 40 km/h, 130 → 104 km/h.
MAXSPEED_FACTOR = 0.8

#: Classes a point (town hall, practice) is never attached to: nobody parks on a motorway or a
#: slip road, so a point next to one joins the nearest other road (its access leg is longer).
#: ``trunk`` itself stays: in France many trunk roads are ordinary streets through villages.
NO_SNAP_HIGHWAYS: frozenset[str] = frozenset({"motorway", "motorway_link", "trunk_link"})

#: Implicit limits (km/h) for the symbolic ``maxspeed`` values (matched case-insensitively).
#: ``FR:rural`` is 80 km/h: the limit on two-lane roads without a separator since 1 July 2018
#: (décret 2018-487); roads where a département restored 90 km/h (loi LOM, 2019) carry an
#: explicit ``maxspeed=90``. ``FR:living_street`` is the 20 km/h "zone de rencontre".
IMPLIED_MAXSPEED_KMH: Mapping[str, float] = MappingProxyType(
    {
        "fr:urban": 50.0,
        "fr:rural": 80.0,
        "fr:trunk": 110.0,
        "fr:motorway": 130.0,
        "fr:zone30": 30.0,
        "fr:zone20": 20.0,
        "fr:living_street": 20.0,
        "fr:walk": 6.0,
        "walk": 6.0,
    }
)
#: Symbolic values of other countries (Monaco's ``MC:urban``…) fall back on these generic limits.
_GENERIC_ZONE_KMH = {"urban": 50.0, "rural": 90.0, "trunk": 110.0, "motorway": 130.0}
#: Tagged limits outside this range (km/h) are treated as tagging errors and ignored.
_MAXSPEED_RANGE_KMH = (1.0, 200.0)
_MPH_TO_KMH = 1.609344
_KNOT_TO_KMH = 1.852
_NUMBER = re.compile(r"^(\d+(?:[.,]\d+)?)\s*(km/h|kmh|kph|mph|knots)?$")

#: Access values that forbid a car (OSRM's blacklist, plus bus/psv-only lanes). ``destination``
#: and ``customers`` stay open: a patient may drive to the practice.
_DENIED_ACCESS = frozenset(
    {"no", "private", "agricultural", "forestry", "emergency", "psv", "bus", "delivery"}
)
#: Most specific first: the first of these tags present on a way decides its access.
_ACCESS_TAGS = ("motorcar", "motor_vehicle", "vehicle", "access")
_ONEWAY_FORWARD = frozenset({"yes", "1", "true"})
_ONEWAY_BACKWARD = frozenset({"-1", "reverse"})
_ONEWAY_NO = frozenset({"no", "0", "false"})
#: Direction changes with the time of day: unknown at analysis time, so not routable (as OSRM).
_ONEWAY_EXCLUDED = frozenset({"reversible", "alternating"})


def parse_maxspeed(value: str | None) -> float | None:
    """Parse an OSM ``maxspeed`` value into a posted limit in km/h (None when unusable).

    Parameters
    ----------
    value : str or None
        Tag value: a number (km/h), a number with a unit (``"30 mph"``, ``"50 km/h"``), a
        symbolic limit (``"FR:urban"``, ``"walk"``, see :data:`IMPLIED_MAXSPEED_KMH`) or a list
        ``"50;30"`` (the lowest applies).

    Returns
    -------
    float or None
        The limit; None for missing, ``none``, ``signals``, ``variable``, unknown or out-of-range
        values (the way then gets its class speed).

    Examples
    --------
    >>> parse_maxspeed("FR:rural"), parse_maxspeed("30 mph"), parse_maxspeed("none")
    (80.0, 48.28032, None)
    """
    if value is None:
        return None
    found: list[float] = []
    for part in value.split(";"):
        kmh = _parse_one_maxspeed(part.strip().lower())
        if kmh is not None:
            found.append(kmh)
    return min(found) if found else None


def _parse_one_maxspeed(text: str) -> float | None:
    kmh: float | None
    match = _NUMBER.match(text)
    if match:
        kmh = float(match.group(1).replace(",", "."))
        unit = match.group(2)
        if unit == "mph":
            kmh *= _MPH_TO_KMH
        elif unit == "knots":
            kmh *= _KNOT_TO_KMH
    elif text in IMPLIED_MAXSPEED_KMH:
        kmh = IMPLIED_MAXSPEED_KMH[text]
    elif ":" in text:
        kmh = _GENERIC_ZONE_KMH.get(text.split(":", 1)[1])
    else:
        kmh = None
    low, high = _MAXSPEED_RANGE_KMH
    if kmh is None or not low <= kmh <= high:
        return None
    return round(kmh, 6)


@dataclass(frozen=True, eq=False)
class RoadProfile:
    """What a car may drive on, and at which speed.

    Attributes
    ----------
    name : str
        Label written in the analysis metadata.
    highway_speed_kmh : Mapping[str, float]
        Drivable ``highway`` classes and their speed when no ``maxspeed`` is tagged.
    maxspeed_factor : float
        Multiplier turning a tagged ``maxspeed`` into a travel speed.
    implied_oneway : frozenset of str
        Classes that are one-way unless tagged ``oneway=no`` (``junction=roundabout`` and
        ``circular`` always are).
    no_snap : frozenset of str
        Classes points are never attached to (default :data:`NO_SNAP_HIGHWAYS`: motorway,
        motorway_link, trunk_link); they are still driven on.

    Notes
    -----
    Not modelled: turn restrictions (``type=restriction`` relations: a forbidden left turn is
    allowed), turn and junction delays, traffic (speeds are free-flow means of each class),
    ferries (``route=ferry`` ways carry no ``highway`` tag: an island without a bridge is cut
    off from the mainland, and its points reach only its own roads), time-dependent access
    (``oneway=reversible``, ``access:conditional``: the conditional tags are ignored, reversible
    ways are left out), tolls and barriers on nodes (``barrier=gate``, bollards: a gate does not
    cut the road).

    A way is skipped when its ``highway`` is not in the table, when ``area=yes``,
    ``impassable=yes``, ``status=impassable``, ``service=emergency_access``, when
    ``oneway`` is reversible, or when the first of ``motorcar``, ``motor_vehicle``, ``vehicle``,
    ``access`` present is one of no, private, agricultural, forestry, emergency, psv, bus,
    delivery. ``oneway=yes/1/true`` allows the drawing direction only, ``-1``/``reverse`` the
    other one. ``maxspeed:forward``/``maxspeed:backward`` override ``maxspeed`` per direction.
    """

    name: str = "car"
    highway_speed_kmh: Mapping[str, float] = field(default_factory=lambda: HIGHWAY_SPEED_KMH)
    maxspeed_factor: float = MAXSPEED_FACTOR
    implied_oneway: frozenset[str] = frozenset({"motorway", "motorway_link"})
    no_snap: frozenset[str] = NO_SNAP_HIGHWAYS

    def __post_init__(self) -> None:
        bad = {k: v for k, v in self.highway_speed_kmh.items() if not 0 < float(v) <= 200}
        if not self.highway_speed_kmh or bad:
            raise DataValidationError(
                f"highway_speed_kmh must map highway classes to speeds in (0, 200] km/h, got {bad}"
            )
        if not 0 < self.maxspeed_factor <= 1:
            raise DataValidationError(
                f"maxspeed_factor must be in (0, 1], got {self.maxspeed_factor}"
            )

    @property
    def classes(self) -> tuple[str, ...]:
        """Drivable ``highway`` classes, in a fixed order (their code is the position)."""
        return tuple(sorted(self.highway_speed_kmh))

    def key(self) -> str:
        """Digest of everything that decides the graph read from a file (disk cache key).

        It hashes the profile's speeds, factor and implied one-ways together with
        :func:`tag_rules_digest` (the tag tables and the code that reads them): any change of a
        rule gives another key, so a cached graph is never reused under other rules. The
        classes in :attr:`no_snap` are left out: they change where points join the graph, not
        the graph.
        """
        blob = json.dumps(
            {
                "speeds": {k: float(v) for k, v in sorted(self.highway_speed_kmh.items())},
                "factor": self.maxspeed_factor,
                "oneway": sorted(self.implied_oneway),
                "rules": tag_rules_digest(),
            },
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def way_speeds(self, tags: Mapping[str, str]) -> tuple[float, float] | None:
        """Speed (km/h) along and against the drawing direction; 0 where not allowed.

        Parameters
        ----------
        tags : Mapping[str, str]
            Tags of an OSM way.

        Returns
        -------
        tuple of float or None
            ``(forward_kmh, backward_kmh)``, or None when a car cannot use the way at all.

        Examples
        --------
        >>> DEFAULT_PROFILE.way_speeds({"highway": "residential", "oneway": "yes"})
        (25.0, 0.0)
        >>> DEFAULT_PROFILE.way_speeds({"highway": "primary", "maxspeed": "FR:rural"})
        (64.0, 64.0)
        """
        highway = tags.get("highway")
        if highway is None or highway not in self.highway_speed_kmh:
            return None
        if (
            tags.get("area") == "yes"
            or tags.get("impassable") == "yes"
            or tags.get("status") == "impassable"
            or tags.get("service") == "emergency_access"
        ):
            return None
        for key in _ACCESS_TAGS:
            if key in tags:
                if tags[key].strip().lower() in _DENIED_ACCESS:
                    return None
                break
        oneway = tags.get("oneway", "").strip().lower()
        if oneway in _ONEWAY_EXCLUDED:
            return None
        forward = backward = True
        if oneway in _ONEWAY_FORWARD:
            backward = False
        elif oneway in _ONEWAY_BACKWARD:
            forward = False
        elif oneway not in _ONEWAY_NO and (
            highway in self.implied_oneway or tags.get("junction") in ("roundabout", "circular")
        ):
            backward = False
        default = float(self.highway_speed_kmh[highway])
        both = parse_maxspeed(tags.get("maxspeed"))
        speeds = []
        for allowed, key in ((forward, "maxspeed:forward"), (backward, "maxspeed:backward")):
            limit = parse_maxspeed(tags.get(key))
            if limit is None:
                limit = both
            kmh = default if limit is None else round(limit * self.maxspeed_factor, 6)
            speeds.append(kmh if allowed else 0.0)
        return speeds[0], speeds[1]


def tag_rules_digest() -> str:
    """Digest of the tag rules: the tables of this module and the code that applies them.

    Read at call time, so that a changed table (or a changed reader) changes the cache key of
    every graph without a hand-bumped version number.
    """
    tables = {
        "implied_maxspeed": dict(sorted(IMPLIED_MAXSPEED_KMH.items())),
        "generic_zone": dict(sorted(_GENERIC_ZONE_KMH.items())),
        "maxspeed_range": list(_MAXSPEED_RANGE_KMH),
        "denied_access": sorted(_DENIED_ACCESS),
        "access_tags": list(_ACCESS_TAGS),
        "oneway": [sorted(_ONEWAY_FORWARD), sorted(_ONEWAY_BACKWARD), sorted(_ONEWAY_NO)],
        "oneway_excluded": sorted(_ONEWAY_EXCLUDED),
    }
    digest = hashlib.sha256(json.dumps(tables, sort_keys=True).encode())
    digest.update(_code_digest().encode())
    return digest.hexdigest()[:16]


@functools.cache
def _code_digest() -> str:
    """Digest of the code that reads tags and ways (fixed for the life of the process)."""
    from geo.road import osm  # the reader of the file: its code decides the segments too

    digest = hashlib.sha256()
    for code in (parse_maxspeed, _parse_one_maxspeed, RoadProfile.way_speeds, osm):
        digest.update(_source_of(code).encode())
    return digest.hexdigest()


def _source_of(obj: object) -> str:
    """Source text of a function or module (its bytecode when the source is not shipped)."""
    try:
        return inspect.getsource(obj)  # type: ignore[arg-type]
    except (OSError, TypeError):  # pragma: no cover - installs without .py files
        code = getattr(obj, "__code__", None)
        return repr(code.co_code) if code is not None else repr(obj)


#: The profile used unless another one is given.
DEFAULT_PROFILE = RoadProfile()

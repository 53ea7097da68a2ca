"""Road travel times from OpenStreetMap: the ``travel="road"`` backend of the engine.

Read an extract once (:meth:`RoadNetwork.from_osm`, cached on disk), then ask for car minutes
between communes and practitioners (:meth:`RoadNetwork.travel_costs` or :func:`road_costs`).

Not modelled: turn restrictions, turn delays, ferries, traffic, time-dependent access (see
:class:`RoadNetwork`). Points never join a motorway or a slip road (:data:`NO_SNAP_HIGHWAYS`).
"""

from geo.road.network import (
    MAX_SNAP_M,
    REPORT_SAMPLE,
    SNAP_SPEED_KMH,
    RoadNetwork,
    RoadNetworkWarning,
    default_cache_dir,
    load_network,
    road_costs,
)
from geo.road.osm import OSM_FORMATS, read_osm_segments
from geo.road.profile import (
    DEFAULT_PROFILE,
    HIGHWAY_SPEED_KMH,
    IMPLIED_MAXSPEED_KMH,
    MAXSPEED_FACTOR,
    NO_SNAP_HIGHWAYS,
    RoadProfile,
    parse_maxspeed,
    tag_rules_digest,
)

__all__ = [
    "DEFAULT_PROFILE",
    "HIGHWAY_SPEED_KMH",
    "IMPLIED_MAXSPEED_KMH",
    "MAXSPEED_FACTOR",
    "MAX_SNAP_M",
    "NO_SNAP_HIGHWAYS",
    "OSM_FORMATS",
    "REPORT_SAMPLE",
    "SNAP_SPEED_KMH",
    "RoadNetwork",
    "RoadNetworkWarning",
    "RoadProfile",
    "default_cache_dir",
    "load_network",
    "parse_maxspeed",
    "read_osm_segments",
    "road_costs",
    "tag_rules_digest",
]

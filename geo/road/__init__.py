"""Road travel times from OpenStreetMap: the ``travel="road"`` backend of the engine.

Read an extract once (:meth:`RoadNetwork.from_osm`, cached on disk), then ask for car minutes
between communes and practitioners (:meth:`RoadNetwork.travel_costs` or :func:`road_costs`).
"""

from geo.road.network import (
    MAX_SNAP_M,
    SNAP_SPEED_KMH,
    RoadNetwork,
    RoadNetworkWarning,
    default_cache_dir,
    road_costs,
)
from geo.road.osm import OSM_FORMATS, read_osm_segments
from geo.road.profile import (
    DEFAULT_PROFILE,
    HIGHWAY_SPEED_KMH,
    IMPLIED_MAXSPEED_KMH,
    MAXSPEED_FACTOR,
    RoadProfile,
    parse_maxspeed,
)

__all__ = [
    "DEFAULT_PROFILE",
    "HIGHWAY_SPEED_KMH",
    "IMPLIED_MAXSPEED_KMH",
    "MAXSPEED_FACTOR",
    "MAX_SNAP_M",
    "OSM_FORMATS",
    "SNAP_SPEED_KMH",
    "RoadNetwork",
    "RoadNetworkWarning",
    "RoadProfile",
    "default_cache_dir",
    "parse_maxspeed",
    "read_osm_segments",
    "road_costs",
]

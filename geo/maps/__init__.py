"""Maps of the health-care offer: interactive offline HTML (Folium) and static PNG/SVG/PDF."""

from geo.maps.choropleth import (
    SYNTHETIC_LABEL,
    ChoroplethSpec,
    analysis_map,
    analysis_spec,
    choropleth_map,
)
from geo.maps.offline import base_map, save_offline_html, to_offline_html
from geo.maps.static import (
    analysis_static_map,
    save_static_map,
    static_map,
    static_map_bytes,
)

__all__ = [
    "SYNTHETIC_LABEL",
    "ChoroplethSpec",
    "analysis_map",
    "analysis_spec",
    "analysis_static_map",
    "base_map",
    "choropleth_map",
    "save_offline_html",
    "save_static_map",
    "static_map",
    "static_map_bytes",
    "to_offline_html",
]

"""Folium maps of the health-care offer, exportable as self-contained offline HTML pages."""

from geo.maps.offline import base_map, save_offline_html, to_offline_html

__all__ = ["base_map", "save_offline_html", "to_offline_html"]

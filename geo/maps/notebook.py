"""Maps shown inline in Jupyter that work without internet.

folium's own notebook display loads Leaflet from a CDN and stays blank offline; here the map's
self-contained HTML (:func:`geo.maps.offline.to_offline_html`: every script and stylesheet
inlined) is shown in an ``<iframe srcdoc>``, so a notebook opened in a room without network,
or committed with its outputs, still shows its maps.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

import folium

from geo.errors import DataValidationError
from geo.maps.offline import to_offline_html

__all__ = ["NotebookMap", "notebook_map"]


@dataclass(frozen=True)
class NotebookMap:
    """An offline map for Jupyter: ``_repr_html_`` is an iframe holding the whole page.

    Attributes
    ----------
    page : str
        The self-contained HTML page of the map.
    height : int
        Height of the frame in pixels (the width follows the notebook's).
    """

    page: str
    height: int = 560

    def _repr_html_(self) -> str:
        """Return the iframe shown by Jupyter (scripts allowed, no other origin reachable).

        Jupyter strips frames from the outputs of a notebook it does not trust (one opened
        with committed outputs): the text under the frame then says how to show the map.
        """
        return (
            f'<div style="position:relative;width:100%;height:{self.height}px">'
            '<p style="position:absolute;top:0;left:0;margin:8px;color:#4d4d4d;'
            "font:13px/1.4 sans-serif\">Carte interactive hors ligne : si elle ne s'affiche pas, "
            "faites confiance au carnet (JupyterLab : palette de commandes, « Trust Notebook ») "
            "ou réexécutez la cellule.</p>"
            f'<iframe srcdoc="{html.escape(self.page, quote=True)}" '
            'style="position:absolute;top:0;left:0;width:100%;height:100%;border:1px solid #ccc;'
            'background:#fff" sandbox="allow-scripts" title="Carte interactive (hors ligne)">'
            "</iframe></div>"
        )

    def __repr__(self) -> str:
        """Say what the object is where HTML is not shown (a terminal)."""
        return f"<carte hors ligne : {len(self.page.encode('utf-8')) // 1024} ko>"


def notebook_map(m: folium.Map | str, *, height: int = 560) -> NotebookMap:
    """Wrap a folium map (or an offline HTML page) for an inline display that needs no network.

    Parameters
    ----------
    m : folium.Map or str
        The map, or the page of :func:`geo.maps.offline.to_offline_html`.
    height : int
        Height of the frame in pixels.

    Returns
    -------
    NotebookMap
        Displayed by Jupyter as an iframe; ``.page`` is the HTML.

    Raises
    ------
    DataValidationError
        If ``height`` is not a positive number of pixels, or the map needs the network (remote
        tiles), see :func:`geo.maps.offline.to_offline_html`.

    Examples
    --------
    >>> from geo.maps import analysis_map
    >>> notebook_map(analysis_map(apl, "Puy-de-Dôme (63)"))  # doctest: +SKIP
    """
    if isinstance(height, bool) or not isinstance(height, int) or height <= 0:
        raise DataValidationError(f"hauteur de la carte : un nombre de pixels > 0, reçu {height!r}")
    page = m if isinstance(m, str) else to_offline_html(m)
    return NotebookMap(page, height)

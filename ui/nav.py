"""The app's pages, and sidebar navigation that carries the shared settings from page to page.

The pages' settings are URL-bound widgets (``bind="query-params"``): the URL is the
view, so a link reproduces it. Streamlit's own page switch drops the query string,
so these links are plain URLs with the shared settings in them: the next page opens
with the same quantizer and tensor. (The page reloads; an uploaded file is chosen
again on the next page.)
"""

from __future__ import annotations

import html
from urllib.parse import urlencode

import streamlit as st

from ui.keys import SHARED_KEYS

#: (script, title, icon, url path); the first is the default page, served at "/"
PAGES = [
    ("pages/playground.py", "Playground", ":material/tune:", "playground"),
    ("pages/inspector.py", "Tensor inspector", ":material/search:", "inspector"),
    ("pages/calibrators.py", "Calibrators", ":material/target:", "calibrators"),
    ("pages/layers.py", "Model layers", ":material/layers:", "layers"),
    ("pages/impact.py", "Model impact", ":material/insights:", "impact"),
    ("pages/formats.py", "Formats", ":material/scatter_plot:", "formats"),
    ("pages/integer.py", "Integer arithmetic", ":material/calculate:", "integer"),
    ("pages/transforms.py", "Transforms", ":material/transform:", "transforms"),
]
#: URL-bound widget keys every page understands: ui.keys.SHARED_KEYS (imported above)


def st_pages() -> list:
    """The st.Page objects for st.navigation."""
    return [st.Page(path, title=title, icon=icon, url_path=url, default=i == 0) for i, (path, title, icon, url) in enumerate(PAGES)]


def shared_query(**overrides) -> dict:
    """The shared settings in the current URL, with ``overrides`` applied (None removes a key)."""
    out = {k: st.query_params.get_all(k) for k in SHARED_KEYS if k in st.query_params}
    out = {k: (v[0] if len(v) == 1 else v) for k, v in out.items()}
    for k, v in overrides.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = v
    return out


def page_url(url_path: str, **overrides) -> str:
    """Relative URL of a page carrying the shared settings (and ``overrides``)."""
    query = urlencode(shared_query(**overrides), doseq=True)
    path = "./" if url_path == PAGES[0][3] else url_path
    return f"{path}?{query}" if query else path


def link(url_path: str, label: str, **overrides) -> None:
    """A same-tab link to a page, carrying the shared settings."""
    st.markdown(f'<a href="{html.escape(page_url(url_path, **overrides))}" target="_self">{html.escape(label)}</a>',
                unsafe_allow_html=True)


def sidebar_nav(current_url_path: str) -> None:
    """One link per page, the current one highlighted, each carrying the shared settings."""
    items = []
    for _, title, _, url in PAGES:
        here = url == current_url_path
        style = "font-weight:600;background:rgba(151,166,195,0.25);" if here else ""
        items.append(
            f'<a href="{html.escape(page_url(url))}" target="_self" data-testid="qvizNavLink" '
            f'style="{style}color:inherit;text-decoration:none;display:block;padding:0.35rem 0.6rem;border-radius:0.4rem">'
            f"{html.escape(title)}</a>"
        )
    st.sidebar.markdown("".join(items), unsafe_allow_html=True)
    st.sidebar.divider()

"""Keep Streamlit's legacy `pages/` auto-discovery from wrapping our st.navigation app."""

from __future__ import annotations

import streamlit as st


def leave_legacy_pages_mode() -> None:
    """Rerun once in st.navigation mode if Streamlit started this run in legacy `pages/` mode.

    Streamlit 1.67 decides per server process (and per AppTest) whether an app uses the
    legacy `pages/` folder before the script runs; the first run then wraps app.py in an
    automatic navigation ("app" plus every file in pages/): our own st.navigation nests
    inside it, or, when the first visitor opens a page's URL, the page runs without
    app.py at all. So app.py and every page call this first: it clears the flag and
    reruns once, and from then on the whole server runs app.py's st.navigation.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a future Streamlit without the legacy mode
        return
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()

"""Keep Streamlit's legacy `pages/` auto-discovery from wrapping our st.navigation app — once, for every page.

Streamlit 1.67 decides whether an app uses the legacy `pages/` folder when the first
``PagesManager`` of a process is made (AppTest makes a new one, with the decision
reset, on every run): a folder named `pages/` next to app.py switches it on, the run
then wraps app.py in an automatic navigation ("app" plus every file in pages/), and a
visitor who opens a page's URL first gets the page without app.py at all.

:func:`stay_in_navigation_mode` runs when the ``ui`` package is first imported, which
app.py and every page do: it makes every later ``PagesManager`` decide "no legacy
pages" (so AppTest and new sessions start in st.navigation mode), and if the run that
is importing ``ui`` was started in legacy mode, it clears the flag and reruns once.
No page has to remember anything; ``pages/`` stays at the top level.
"""

from __future__ import annotations

import streamlit as st


def stay_in_navigation_mode() -> None:
    """Switch Streamlit's legacy `pages/` mode off for this process (rerunning once if this run is in it)."""
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a future Streamlit without the legacy mode
        return
    if not getattr(PagesManager, "_qviz_navigation_only", False):
        init = PagesManager.__init__

        def __init__(self, *args, **kwargs):
            init(self, *args, **kwargs)
            PagesManager.uses_pages_directory = False

        PagesManager.__init__ = __init__  # type: ignore[method-assign]
        PagesManager._qviz_navigation_only = True  # type: ignore[attr-defined]
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def leave_legacy_pages_mode() -> None:
    """Kept for callers from before the central switch: :func:`stay_in_navigation_mode`."""
    stay_in_navigation_mode()

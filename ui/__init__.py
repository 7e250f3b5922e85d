"""Streamlit-only helpers shared by the pages (qviz itself never imports streamlit).

Importing ``ui`` (app.py and every page do) switches Streamlit's legacy `pages/` mode off
once for the process: see :mod:`ui.routing`.
"""

from ui.routing import stay_in_navigation_mode

stay_in_navigation_mode()

"""qviz dashboard: page routing and the settings every page shares. Run with `streamlit run app.py`.

The quantizer controls are shared too, but each page draws them (ui.spec_widgets) so
that they live in the page's own run; their values travel in the URL across pages.
"""

import streamlit as st

from ui.routing import leave_legacy_pages_mode

leave_legacy_pages_mode()
st.set_page_config(page_title="qviz — see what quantization does", page_icon="📶", layout="wide")

pages = [
    st.Page("pages/playground.py", title="Playground", icon="🎛️", default=True, url_path="playground"),
    st.Page("pages/inspector.py", title="Tensor inspector", icon="🔎", url_path="inspector"),
    st.Page("pages/calibrators.py", title="Calibrators", icon="🎯", url_path="calibrators"),
    st.Page("pages/layers.py", title="Model layers", icon="🧱", url_path="layers"),
]
st.navigation(pages).run()

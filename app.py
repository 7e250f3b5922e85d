"""qviz dashboard: page routing and the settings every page shares. Run with `streamlit run app.py`.

The quantizer controls are drawn by each page (ui.spec_widgets) so that they live in
the page's own run; they are bound to the URL, and the sidebar links (ui.nav) carry
them from page to page, so the settings, and a shared link, follow the user.
"""

import streamlit as st

from ui.nav import sidebar_nav, st_pages

st.set_page_config(page_title="qviz — see what quantization does", page_icon="📶", layout="wide")

page = st.navigation(st_pages(), position="hidden")
sidebar_nav(page.url_path)
page.run()

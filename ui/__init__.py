"""Streamlit-only helpers shared by the pages (qviz itself never imports streamlit)."""

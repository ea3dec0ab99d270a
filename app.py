"""lrexplorer's entry point: `streamlit run app.py`.

Lists the pages explicitly (st.navigation does not scan pages/) and shows the detected hardware in
the sidebar. Nothing heavy is imported here, so the app starts in about a second.
"""

import streamlit as st

from lrexplorer import ui

st.set_page_config(page_title="lrexplorer", page_icon=":material/show_chart:", layout="wide")

pages = [
    st.Page("pages/schedules.py", title="Schedules", icon=":material/show_chart:", default=True),
]
navigation = st.navigation(pages)
ui.hardware_sidebar(ui.cached_hardware())
navigation.run()

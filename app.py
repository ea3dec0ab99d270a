"""lrexplorer's entry point: `streamlit run app.py`.

Lists the pages of app_pages/ explicitly and shows the detected hardware in the sidebar. The folder
is deliberately not called pages/: with a pages/ folder beside the main script, Streamlit 1.6x runs
a deep link (e.g. /train?run=ID) on a freshly started server as a legacy page, without this file. Nothing heavy is imported here, so the app starts in about a second.
"""

import streamlit as st

from lrexplorer import ui

st.set_page_config(page_title="lrexplorer", page_icon=":material/show_chart:", layout="wide")

pages = [
    st.Page("app_pages/schedules.py", title="Schedules", icon=":material/show_chart:", default=True),
    st.Page("app_pages/memory.py", title="Memory", icon=":material/memory:"),
    st.Page("app_pages/train.py", title="Train", icon=":material/model_training:"),
    st.Page("app_pages/runs.py", title="Runs", icon=":material/history:"),
    st.Page("app_pages/guide.py", title="Guide", icon=":material/school:"),
]
navigation = st.navigation(pages)
ui.hardware_sidebar(ui.cached_hardware())
navigation.run()

"""lrexplorer's Streamlit entry script, started by `lrexplorer app` (lrexplorer/cli/app.py).

Navigation over the pages of the registry (`lrexplorer.app.pages.PAGES`, scripts in page_scripts/) and
the detected hardware in the sidebar. The scripts' folder is deliberately not called pages/: with a pages/
folder beside the main script, Streamlit 1.6x runs a deep link (e.g. /train?run=ID) on a freshly
started server as a legacy page, without this file. Nothing heavy is imported here but pandas (see below), so the app
starts in about a second.
"""

# Plotly reads pandas from sys.modules without waiting for its import to finish: two sessions drawing their first
# figure at once (two tabs opened together on a fresh server) could meet a half-imported pandas. Imported here,
# each session waits on Python's import lock until pandas is whole (a fraction of a second, once per server).
import pandas  # noqa: F401
import streamlit as st

from lrexplorer.app import pages
from lrexplorer.app.common import roles, sidebar, widgets

st.set_page_config(page_title="lrexplorer", page_icon=":material/show_chart:", layout="wide")

# In a class session (`lrexplorer app --share`), the teacher's token is read from the URL (and removed) before
# any page runs; a session without it views only.
if roles.settle_role() == "viewer":
    st.sidebar.info(roles.VIEW_ONLY, icon=":material/visibility:")
navigation = pages.navigation()
sidebar.hardware_sidebar(widgets.cached_hardware())
navigation.run()

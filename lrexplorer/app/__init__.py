"""The Streamlit app: every widget of lrexplorer lives in this package.

- `main`: the entry script `lrexplorer app` serves: navigation over the page registry, the hardware sidebar.
- `pages`: the registry of the pages (title, icon, script, URL) and the links between them.
- `page_scripts/`: one thin script per page, calling its page's `render()`.
- One subpackage per page, each importing the shared parts and no other page: `schedules/`, `memory/`,
  `train/`, `tune/`, `knowledge/`, `runs/`, `guide/`.
- `common/`: what several pages share (the run form, schedule inputs and views, run feeds and chat, widgets).
- `figures/`: the Plotly figure builders; they import no streamlit, so tests and benchmarks build figures
  without a server.

This file imports nothing: `lrexplorer.app.figures` must load where streamlit is missing.
"""

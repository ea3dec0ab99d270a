"""The Streamlit UI of lrexplorer: every widget of the app lives in this package.

- `pages`: the registry of the app's pages (title, icon, script, URL) and the links between them.
- `*_page.py`: one module per page, each with a `render()` that its `page_scripts/*.py` file calls.
- `main.py`: the app's entry script (`lrexplorer app` runs it with Streamlit).
- `widgets`, `sidebar`: helpers the pages share; `*_form.py`, `run_view`, `memory_check`,
  `guide_*.py`: the parts of one page.
- `figures/`: the Plotly figure builders. They import no streamlit, so tests and benchmarks build
  figures without a server.

This file imports nothing: `lrexplorer.app.figures` must load where streamlit is missing.
"""

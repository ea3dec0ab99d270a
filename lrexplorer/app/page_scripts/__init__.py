"""One thin Streamlit script per page, each calling its page module's `render()` (registered in `pages.py`)."""

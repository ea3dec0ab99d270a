"""One thin Streamlit script per page, each calling its page's `render()` (registered in `pages.py`):
`schedules`, `memory`, `train`, `tune`, `knowledge`, `runs`, `guide`.
"""

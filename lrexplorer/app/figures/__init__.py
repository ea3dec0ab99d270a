"""Plotly figures of the app (no streamlit here): learning-rate curves, training runs, memory, the Guide."""

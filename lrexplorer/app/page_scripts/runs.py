"""Runs page: every run in the runs folder; compare, resume, delete and export them
(`lrexplorer.app.runs_page`)."""

from lrexplorer.app import runs_page

runs_page.render()

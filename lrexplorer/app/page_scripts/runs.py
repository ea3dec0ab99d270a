"""Runs page: every run in the runs folder; compare, resume, delete and export them
(`lrexplorer.app.runs.page`)."""

from lrexplorer.app.runs import page as runs_page

runs_page.render()

"""Schedules page: compare learning-rate schedules exactly as the Trainer will apply them
(`lrexplorer.app.schedules_page`)."""

from lrexplorer.app import schedules_page

schedules_page.render()

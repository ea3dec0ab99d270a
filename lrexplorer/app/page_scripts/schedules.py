"""Schedules page: compare learning-rate schedules exactly as the Trainer will apply them
(`lrexplorer.app.schedules.page`)."""

from lrexplorer.app.schedules import page as schedules_page

schedules_page.render()

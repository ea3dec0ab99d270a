"""Tune page: the LR range test and sweeps of the run in the Train form (`lrexplorer.app.tune_page`)."""

from lrexplorer.app import tune_page

tune_page.render()

"""Tune page: the LR range test and sweeps of the run in the Train form (`lrexplorer.app.tune.page`)."""

from lrexplorer.app.tune import page as tune_page

tune_page.render()

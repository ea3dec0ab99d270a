"""Train page: launch a real fine-tuning run from a form, then watch it learn at `?run=ID`
(`lrexplorer.app.train.page`)."""

from lrexplorer.app.train import page as train_page

train_page.render()

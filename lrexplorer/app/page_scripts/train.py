"""Train page: launch a real fine-tuning run from a form, then watch it learn at `?run=ID`
(`lrexplorer.app.train_page`)."""

from lrexplorer.app import train_page

train_page.render()

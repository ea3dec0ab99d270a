"""Guide page: the training notes as lessons, each tied to the tool that shows its point
(`lrexplorer.app.guide.page`)."""

from lrexplorer.app.guide import page as guide_page

guide_page.render()

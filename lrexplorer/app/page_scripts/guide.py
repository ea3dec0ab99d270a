"""Guide page: the training notes as lessons, each tied to the tool that shows its point
(`lrexplorer.app.guide_page`)."""

from lrexplorer.app import guide_page

guide_page.render()

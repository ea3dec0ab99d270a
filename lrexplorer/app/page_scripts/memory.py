"""Memory page: will this fine-tune fit, where does the memory go, and which setting buys the most
(`lrexplorer.app.memory_page`)."""

from lrexplorer.app import memory_page

memory_page.render()

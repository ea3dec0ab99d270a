"""Memory page: will this fine-tune fit, where does the memory go, and which setting buys the most
(`lrexplorer.app.memory.page`)."""

from lrexplorer.app.memory import page as memory_page

memory_page.render()

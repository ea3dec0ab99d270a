"""Knowledge lab page: fine-tuning against retrieval on new facts (`lrexplorer.app.knowledge.page`)."""

from lrexplorer.app.knowledge import page as knowledge_page

knowledge_page.render()

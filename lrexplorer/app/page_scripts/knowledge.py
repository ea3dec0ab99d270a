"""Knowledge lab page: fine-tuning against retrieval on new facts (`lrexplorer.app.knowledge_page`)."""

from lrexplorer.app import knowledge_page

knowledge_page.render()

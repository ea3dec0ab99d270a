"""The Guide: the training notes' concepts as lessons, each tied to the tool that shows it.

- `lesson`, `content`, `content_tricks`: the lessons as data (our own words; facts and formulas
  from ../shared/seed/training-notes.md).
- `arguments`: the notes' TrainingArguments, resolved through the parameter catalogue.
- `example`: the notes' TrainingArguments example, corrected and generated from the catalogue.
- `links`: query-parameter presets for the other pages; `search`: the search box.
- `demos`: torch demonstrations (torch loads only when one runs); `paraphrases`: the facts dataset
  with k phrasings; `memory_curves`: memory against sequence length from lrexplorer.memory.

Nothing here imports streamlit: the Guide page, its widgets and its figures are in the UI package
(`lrexplorer.app.guide_*`, `lrexplorer.app.figures.guide`).
"""

from lrexplorer.guide.content import LESSONS, lesson_by_id
from lrexplorer.guide.lesson import Lesson, Topic

__all__ = ["LESSONS", "Lesson", "Topic", "lesson_by_id"]

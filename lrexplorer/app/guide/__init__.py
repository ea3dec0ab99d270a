"""The Guide page.

- `page`: the page: the training notes as lessons, each tied to the tool that shows its point.
- `nav`: links to the other pages and moving between lessons.
- `lessons`: the lessons' interactive parts (paraphrase runs, schedule curves, demonstrations).
- `memory`: the memory-against-sequence-length plot of the checkpointing and flash-attention lessons.
- `reference`: the reference lessons: every argument, and the notes' example corrected.
- `state`: the page's settings: the lesson, the search, each demonstration's choices (`GUIDE`).
"""

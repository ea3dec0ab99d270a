"""The Knowledge lab page.

- `page`: fine-tuning against retrieval at teaching the built-in model new facts: start, follow, results.
"""

"""The Schedules page.

- `page`: learning-rate schedules compared exactly as the Trainer will apply them.
- `form`: the learning rate, warmup and run length, seeded from the URL.
"""

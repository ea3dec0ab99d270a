"""The Schedules page.

- `page`: learning-rate schedules compared exactly as the Trainer will apply them.
- `form`: the page's settings (`SCHEDULES`, in the address) and its form: the schedules, the learning rate,
  warmup and run length, each schedule's arguments.
"""

"""The Tune page.

- `page`: an LR range test of the run in the run form, and sweeps over its fields.
"""

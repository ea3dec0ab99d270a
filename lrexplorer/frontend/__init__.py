"""What the two front ends (the command line and the app) share, above the engines.

- `preflight`: what is known about a run before Start: validity, updates and LR curve, memory, advice.
- `chat`: chatting with a run's model.
- `tuning_launch`: range tests and sweep trials started as runs; `sweeps`: a sweep's trials planned and run.
"""

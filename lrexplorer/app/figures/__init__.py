"""Plotly figures of the app (no streamlit here).

- `lr_curves`: learning-rate curves and the decimation that keeps them light in the browser.
- `run_curves`: a training run's loss, LR, grad norm, throughput and memory, and run comparisons.
- `schedule_match`: a run's logged LRs under the schedule recognised from them (or where they depart).
- `memory`: the Memory page's figures: where the memory goes in each phase of a step; `generation`: its
  Generation tab's, the peak of a generate call against the prompt length.
- `knowledge`: a knowledge lab's accuracy against paraphrases and its fine-tuning losses.
- `guide`: the Guide's small figures (schedule curves, the clipping picture, memory curves).
"""

"""Catalogue entries for every value of transformers' `SchedulerType`.

Formulas use: eta_0 the configured learning_rate, k the 0-based optimizer update, N the total
number of updates, W the warmup updates and p = (k - W) / max(1, N - W) the progress after warmup.
"""

from __future__ import annotations

from lrexplorer.core.fields import Field
from lrexplorer.core.limits import MAX_EPSILON, MAX_LR, MAX_POWER, MAX_STEPS, MAX_THRESHOLD
from lrexplorer.schedules import hf_curves as hf
from lrexplorer.schedules.entry import Schedule

WARM = r"\eta_k = \eta_0\,\frac{k}{\max(1, W)} \quad (k < W)"

NUM_CYCLES_COS = Field(
    "num_cycles",
    "float",
    0.5,
    "Number of cosine waves after warmup; 0.5 is one half-wave from the peak down to 0.",
    low=0.0,
    low_open=True,
    high=MAX_STEPS,
)
MIN_LR = Field(
    "min_lr",
    "float",
    None,
    "Absolute LR floor. Set this or min_lr_rate, not both.",
    low=0.0,
    high=MAX_LR,
    nullable=True,
)
MIN_LR_RATE = Field(
    "min_lr_rate",
    "float",
    0.1,
    "LR floor as a fraction of learning_rate. Set this or min_lr, not both.",
    low=0.0,
    high=1.0,
    nullable=True,
)
PLATEAU_PARAMS = (
    Field(
        "mode",
        "choice",
        "min",
        "'min': lower the LR when the metric stops falling; 'max': when it stops rising.",
        choices=("min", "max"),
    ),
    Field(
        "factor",
        "float",
        0.1,
        "Multiplier applied to the LR on a plateau.",
        low=0.0,
        high=1.0,
        low_open=True,
        high_open=True,
    ),
    Field(
        "patience",
        "int",
        10,
        "Evaluations without improvement tolerated before lowering the LR.",
        low=0,
        high=MAX_STEPS,
    ),
    Field("threshold", "float", 1e-4, "Smallest change that counts as an improvement.", low=0.0, high=MAX_THRESHOLD),
    Field("threshold_mode", "choice", "rel", "Whether threshold is relative or absolute.", choices=("rel", "abs")),
    Field("cooldown", "int", 0, "Evaluations to wait after a reduction before counting again.", low=0, high=MAX_STEPS),
    Field("min_lr", "float", 0.0, "The LR never goes below this.", low=0.0, high=MAX_LR),
    Field("eps", "float", 1e-8, "Reductions smaller than this are skipped.", low=0.0, high=MAX_EPSILON),
)
GREEDY_PARAMS = (
    Field("mode", "choice", "min", "'min' for losses, 'max' for scores.", choices=("min", "max")),
    Field(
        "factor",
        "float",
        0.95,
        "Multiplier on a plateau; its inverse on steady improvement.",
        low=0.0,
        high=1.0,
        low_open=True,
        high_open=True,
    ),
    Field("patience", "int", 10, "Evaluations of improvement or plateau before the LR moves.", low=0, high=MAX_STEPS),
    Field("threshold", "float", 1e-6, "Smallest change that counts as an improvement.", low=0.0, high=MAX_THRESHOLD),
    Field("threshold_mode", "choice", "abs", "Whether threshold is relative or absolute.", choices=("rel", "abs")),
    Field("cooldown", "int", 0, "Evaluations to wait after a reduction.", low=0, high=MAX_STEPS),
    Field("warmup", "int", 0, "Evaluations to wait after an increase.", low=0, high=MAX_STEPS),
    Field("min_lr", "float", 1e-3, "Lower bound of the LR.", low=0.0, high=MAX_LR),
    Field("max_lr", "float", 1.0, "Upper bound of the LR.", low=0.0, high=MAX_LR),
    Field("eps", "float", 1e-8, "Changes smaller than this are skipped.", low=0.0, high=MAX_EPSILON),
    Field("smooth", "bool", False, "Average the metric over a sliding window first."),
    Field("window_size", "int", 50, "Window of the smoothing average.", low=1, high=MAX_STEPS),
    Field("reset_start", "int", 500, "Evaluations at min_lr before the schedule resets itself.", low=1, high=MAX_STEPS),
)

HF_SCHEDULES = (
    Schedule(
        name="linear",
        family="transformers",
        title="Linear decay",
        curve=hf.linear,
        latex=WARM + r",\qquad \eta_k = \eta_0 \max\!\left(0, \frac{N-k}{\max(1, N-W)}\right) \quad (k \ge W)",
        explanation=(
            "The Trainer's default. After the warmup ramp the rate falls along a straight line and would reach "
            "zero one step after the last update, so the final update still uses a small positive rate. "
            "Simple and hard to get wrong, which is why most fine-tuning recipes start here."
        ),
    ),
    Schedule(
        name="cosine",
        family="transformers",
        title="Cosine decay",
        curve=hf.cosine,
        params=(NUM_CYCLES_COS,),
        latex=WARM + r",\qquad \eta_k = \eta_0 \max\!\left(0, \tfrac12\left[1 + \cos(2\pi c\,p)\right]\right)",
        explanation=(
            "Stays near the peak for longer than linear decay, then drops faster in the middle and flattens out "
            "near zero at the end. With the default c = 0.5 it is one half-wave; larger c makes the wave go back "
            "up again (without any warmup in between)."
        ),
    ),
    Schedule(
        name="cosine_with_restarts",
        family="transformers",
        title="Cosine with hard restarts",
        curve=hf.cosine_with_restarts,
        params=(
            Field(
                "num_cycles",
                "int",
                1,
                "How many times the cosine wave runs from the peak down to zero.",
                low=1,
                high=MAX_STEPS,
            ),
        ),
        latex=WARM + r",\qquad \eta_k = \eta_0\,\tfrac12\left[1 + \cos\!\left(\pi\,((c\,p) \bmod 1)\right)\right]",
        explanation=(
            "Splits the post-warmup part into c equal cycles. Each one decays from the peak to zero along a "
            "half cosine, then jumps straight back to the peak. The jumps can shake a model out of a narrow "
            "minimum; they also make the loss curve spike at every restart."
        ),
    ),
    Schedule(
        name="polynomial",
        family="transformers",
        title="Polynomial decay",
        curve=hf.polynomial,
        params=(
            Field(
                "lr_end", "float", 1e-7, "The LR the decay ends at; must be below learning_rate.", low=0.0, high=MAX_LR
            ),
            Field(
                "power",
                "float",
                1.0,
                "Exponent of the decay: 1 is linear, 2 falls fast early, 0.5 falls late.",
                low=0.0,
                high=MAX_POWER,
            ),
        ),
        latex=WARM + r",\qquad \eta_k = (\eta_0 - \eta_{end})\left(1 - \frac{k-W}{N-W}\right)^{P} + \eta_{end}",
        explanation=(
            "Generalises linear decay: the distance to the end rate shrinks like a power of the remaining "
            "fraction of training. It ends at lr_end instead of zero, so the last updates keep a small floor."
        ),
    ),
    Schedule(
        name="constant",
        family="transformers",
        title="Constant",
        curve=hf.constant,
        uses_warmup=False,
        notes_title="Fixed learning rate",
        latex=r"\eta_k = \eta_0",
        explanation=(
            "The same rate for every update: the baseline the other schedules are measured against. "
            "Note that transformers' 'constant' ignores warmup_steps altogether; pick constant_with_warmup "
            "to ramp up first."
        ),
    ),
    Schedule(
        name="constant_with_warmup",
        family="transformers",
        title="Constant with warmup",
        curve=hf.constant_with_warmup,
        notes_title="Learning-rate warmup",
        latex=r"\eta_k = \eta_0 \min\!\left(1, \frac{k}{\max(1, W)}\right)",
        explanation=(
            "A linear ramp from zero to the target over W updates, then flat. Warmup protects the first updates, "
            "when the optimizer's moment estimates are still empty and the gradients of a freshly initialised "
            "head can be large. Any other schedule here can be combined with the same ramp."
        ),
    ),
    Schedule(
        name="inverse_sqrt",
        family="transformers",
        title="Inverse square root",
        curve=hf.inverse_sqrt,
        params=(
            Field(
                "timescale",
                "int",
                None,
                "Decay time scale; empty means W (or 10000 without warmup).",
                low=1,
                high=MAX_STEPS,
                nullable=True,
            ),
        ),
        latex=WARM + r",\qquad \eta_k = \eta_0 \Big/ \sqrt{\frac{k - W + \tau}{\tau}}",
        explanation=(
            "The schedule of the original Transformer paper: after warmup the rate falls like one over the square "
            "root of the step. It never reaches zero, so it suits runs whose length is not known in advance."
        ),
    ),
    Schedule(
        name="reduce_lr_on_plateau",
        family="transformers",
        title="Reduce on plateau",
        curve=hf.metric_driven,
        params=PLATEAU_PARAMS,
        uses_warmup=False,
        metric_driven=True,
        latex=r"\eta \leftarrow \max(\eta_{min}, f\,\eta)\ \text{after } \text{patience} \text{ evaluations without improvement}",
        explanation=(
            "Reacts to the evaluation loss instead of following a fixed curve: the Trainer steps it only after "
            "an evaluation, and it multiplies the rate by `factor` once the loss has stopped improving for "
            "`patience` evaluations. Without evaluations (eval_strategy='no') the rate never changes, which is "
            "what the flat line shows. It ignores warmup_steps."
        ),
    ),
    Schedule(
        name="cosine_with_min_lr",
        family="transformers",
        title="Cosine to a floor",
        curve=hf.cosine_with_min_lr,
        params=(NUM_CYCLES_COS, MIN_LR, MIN_LR_RATE),
        exclusive=(("min_lr", "min_lr_rate"),),
        latex=WARM + r",\qquad \eta_k = \eta_0\left[r + (1 - r)\,\tfrac12\left(1 + \cos(2\pi c\,p)\right)\right]",
        explanation=(
            "Cosine decay that ends at a floor r·eta_0 instead of zero, so the last part of training still "
            "learns. Give the floor as min_lr_rate (fraction) or min_lr (absolute)."
        ),
    ),
    Schedule(
        name="cosine_warmup_with_min_lr",
        family="transformers",
        title="Cosine to a floor, shifted warmup",
        curve=hf.cosine_warmup_with_min_lr,
        exclusive=(("min_lr", "min_lr_rate"),),
        params=(
            NUM_CYCLES_COS,
            MIN_LR,
            MIN_LR_RATE,
            Field(
                "warmup_lr_rate",
                "float",
                None,
                "LR of the first update as a fraction of learning_rate; empty means 1/W.",
                low=0.0,
                high=1.0,
                nullable=True,
            ),
        ),
        latex=r"\eta_k = \eta_0\frac{k+1}{\max(1,W)}\ (k<W),\quad \eta_k = \eta_0\left[r + (1-r)\tfrac12\left(1+\cos\left(2\pi c\,\frac{k-W+1}{\max(1,N-W)}\right)\right)\right]",
        explanation=(
            "Like cosine_with_min_lr, but everything is shifted by one update: the warmup starts at eta_0/W "
            "rather than at zero, so no update is wasted with a zero rate, and the decay reaches the floor "
            "exactly at the last update."
        ),
    ),
    Schedule(
        name="warmup_stable_decay",
        family="transformers",
        title="Warmup, stable, decay (WSD)",
        curve=hf.warmup_stable_decay,
        params=(
            Field(
                "num_decay_steps",
                "int",
                None,
                "Updates in the final decay phase; empty means 20% of training.",
                low=0,
                high=MAX_STEPS,
                derived=lambda span: max(1, span // 5),
                derived_help="20% of the total updates",
            ),
            Field(
                "num_stable_steps",
                "int",
                None,
                "Updates at the peak; empty means whatever warmup and decay leave.",
                low=0,
                high=MAX_STEPS,
                nullable=True,
            ),
            Field("warmup_type", "choice", "linear", "Shape of the warmup.", choices=("linear", "cosine", "1-sqrt")),
            Field("decay_type", "choice", "cosine", "Shape of the decay.", choices=("linear", "cosine", "1-sqrt")),
            Field(
                "min_lr_ratio", "float", 0.0, "Floor of both ramps as a fraction of learning_rate.", low=0.0, high=1.0
            ),
            Field(
                "num_cycles", "float", 0.5, "Cosine waves in a cosine decay.", low=0.0, low_open=True, high=MAX_STEPS
            ),
        ),
        latex=r"\eta_k = \eta_0 \begin{cases} r + (1-r)\,g_w(k/W) & k < W \\ 1 & k < W + S \\ r + (1-r)\,g_d\!\left(\frac{k-W-S}{D}\right) & k < W+S+D \\ r & \text{after} \end{cases}",
        explanation=(
            "Three phases: ramp up, hold the peak for most of training, then decay over a short final stretch. "
            "Because the peak phase does not depend on the total length, a run can be extended (or a checkpoint "
            "from the stable phase reused) before the decay. Its warmup starts at the floor r·eta_0, not at zero."
        ),
    ),
    Schedule(
        name="greedy",
        family="transformers",
        title="Greedy (metric-driven)",
        curve=hf.metric_driven,
        params=GREEDY_PARAMS,
        uses_warmup=False,
        metric_driven=True,
        latex=r"\eta \leftarrow \min(\eta_{max}, \eta / f) \text{ on improvement},\quad \eta \leftarrow \max(\eta_{min}, f\,\eta) \text{ on a plateau}",
        explanation=(
            "Newer transformers releases add GreedyLR, which raises the rate while the evaluation metric keeps "
            "improving and lowers it on a plateau. Like reduce_lr_on_plateau it moves only after evaluations and "
            "ignores warmup; without evaluations the rate stays at learning_rate."
        ),
    ),
)

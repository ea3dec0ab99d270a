"""Catalogue entries for the `torch.optim.lr_scheduler` classes a run can use, by their class names.

Optional arguments keep torch's own defaults, so a curve drawn here is what the same class gives in
plain PyTorch code. Arguments torch requires get a default derived from the run: `span` is the
number of updates the class covers (total updates minus warmup). m counts the class's own steps.
"""

from __future__ import annotations

from lrexplorer.core.fields import Field
from lrexplorer.core.limits import MAX_DIV_FACTOR, MAX_GAMMA, MAX_LR, MAX_POWER, MAX_STEPS
from lrexplorer.schedules import torch_curves as tc
from lrexplorer.schedules.entry import Schedule

GAMMA = Field("gamma", "float", 0.1, "Multiplier applied at each decay.", low=0.0, low_open=True, high=MAX_GAMMA)
ETA_MIN = Field("eta_min", "float", 0.0, "Lowest LR of the cosine.", low=0.0, high=MAX_LR)


def _momentum(base: float, top: float) -> tuple[Field, ...]:
    # These move Adam's beta1 (or SGD momentum), not the LR; they are listed because the class takes them.
    return (
        Field("cycle_momentum", "bool", True, "Also cycle momentum (Adam's beta1) opposite to the LR."),
        Field("base_momentum", "float", base, "Momentum at the LR peak.", low=0.0, high=1.0),
        Field("max_momentum", "float", top, "Momentum at the LR trough.", low=0.0, high=1.0),
    )


TORCH_SCHEDULES = (
    Schedule(
        name="StepLR",
        family="torch",
        title="Step decay",
        curve=tc.step_lr,
        notes_title="Step decay",
        params=(
            Field(
                "step_size",
                "int",
                None,
                "Updates between two decays.",
                low=1,
                high=MAX_STEPS,
                derived=lambda span: max(1, span // 3),
                derived_help="a third of the updates",
            ),
            GAMMA,
        ),
        latex=r"\eta_m = \eta_0\,\gamma^{\lfloor m / s \rfloor}",
        explanation=(
            "Holds the rate, then multiplies it by gamma every step_size updates, giving a staircase. The notes "
            "count the period in epochs; here it counts optimizer updates, because the Trainer steps the "
            "scheduler once per update. Each drop usually shows as a sudden dip in the training loss."
        ),
    ),
    Schedule(
        name="MultiStepLR",
        family="torch",
        title="Decay at milestones",
        curve=tc.multi_step_lr,
        params=(
            Field(
                "milestones",
                "int_list",
                None,
                "Updates (counted after warmup) at which the LR is multiplied by gamma.",
                high=MAX_STEPS,
                derived=lambda span: [span // 2, (3 * span) // 4],
                derived_help="half and three quarters of the way",
            ),
            GAMMA,
        ),
        latex=r"\eta_m = \eta_0\,\gamma^{\#\{\text{milestones} \le m\}}",
        explanation=(
            "A staircase with steps where you put them: the classic 'divide by ten at 50% and 75% of training'. "
            "A milestone listed twice decays twice."
        ),
    ),
    Schedule(
        name="ConstantLR",
        family="torch",
        title="Reduced start, then constant",
        curve=tc.constant_lr,
        params=(
            Field(
                "factor",
                "float",
                1.0 / 3,
                "Multiplier during the first total_iters updates.",
                low=0.0,
                high=1.0,
                low_open=True,
            ),
            Field("total_iters", "int", 5, "Updates run at the reduced rate.", low=1, high=MAX_STEPS),
        ),
        latex=r"\eta_m = \eta_0 \cdot \begin{cases} f & m < T \\ 1 & m \ge T \end{cases}",
        explanation=(
            "Runs the first total_iters updates at a fraction of the rate, then switches to the full rate in one "
            "jump: a crude warmup. (A factor of 0 would make torch divide by zero at the switch, so it is refused.)"
        ),
    ),
    Schedule(
        name="LinearLR",
        family="torch",
        title="Linear ramp of a factor",
        curve=tc.linear_lr,
        params=(
            Field(
                "start_factor", "float", 1.0 / 3, "Multiplier at the first update.", low=0.0, high=1.0, low_open=True
            ),
            Field("end_factor", "float", 1.0, "Multiplier reached after total_iters updates.", low=0.0, high=1.0),
            Field("total_iters", "int", 5, "Updates over which the factor moves.", low=1, high=MAX_STEPS),
        ),
        latex=r"\eta_m = \eta_0\left(f_s + (f_e - f_s)\,\frac{\min(m, T)}{T}\right)",
        explanation=(
            "Moves a multiplier in a straight line from start_factor to end_factor over total_iters updates, "
            "then holds it. With start below end it is a warmup; with start 1 and end 0 it is a linear decay."
        ),
    ),
    Schedule(
        name="ExponentialLR",
        family="torch",
        title="Exponential decay",
        curve=tc.exponential_lr,
        notes_title="Exponential decay",
        params=(
            Field(
                "gamma",
                "float",
                None,
                "Multiplier applied at every update (γ = e^(−k) in the notes' form).",
                low=0.0,
                low_open=True,
                high=MAX_GAMMA,
                derived=lambda span: 0.01 ** (1.0 / max(1, span)),
                derived_help="the value that reaches 1% of the LR at the end",
            ),
        ),
        latex=r"\eta_m = \eta_0\,\gamma^{m} = \eta_0\,e^{-k_d m},\quad k_d = -\ln\gamma",
        explanation=(
            "Multiplies the rate by the same gamma after every update, so it falls fast at first and ever more "
            "slowly. The notes write it as e^(−kt); that is gamma = e^(−k). Because every update counts, gamma "
            "must be very close to 1 for runs of thousands of steps."
        ),
    ),
    Schedule(
        name="CosineAnnealingLR",
        family="torch",
        title="Cosine annealing",
        curve=tc.cosine_annealing_lr,
        notes_title="Cosine annealing",
        params=(
            Field(
                "T_max",
                "int",
                None,
                "Updates for the half cosine from the peak to eta_min.",
                low=1,
                high=MAX_STEPS,
                derived=lambda span: max(1, span),
                derived_help="all updates after warmup",
            ),
            ETA_MIN,
        ),
        latex=r"\eta_m = \eta_{min} + \tfrac12(\eta_0 - \eta_{min})\left(1 + \cos\frac{\pi m}{T_{max}}\right)",
        explanation=(
            "A half cosine from the starting rate down to eta_min over T_max updates. If training runs past "
            "T_max, torch keeps following the cosine, so the rate climbs back up: set T_max to the run's length."
        ),
    ),
    Schedule(
        name="CosineAnnealingWarmRestarts",
        family="torch",
        title="Cosine with warm restarts (SGDR)",
        curve=tc.cosine_annealing_warm_restarts,
        params=(
            Field(
                "T_0",
                "int",
                None,
                "Updates in the first cycle.",
                low=1,
                high=MAX_STEPS,
                derived=lambda span: max(1, span // 4),
                derived_help="a quarter of the updates",
            ),
            Field(
                "T_mult", "int", 1, "Each cycle is this many times longer than the previous one.", low=1, high=MAX_STEPS
            ),
            ETA_MIN,
        ),
        latex=r"\eta_m = \eta_{min} + \tfrac12(\eta_0 - \eta_{min})\left(1 + \cos\frac{\pi T_{cur}}{T_i}\right),\quad T_i = T_0 T_{mult}^{i}",
        explanation=(
            "Cosine annealing that restarts at the full rate at the end of every cycle; with T_mult above 1 each "
            "cycle is longer than the last. This is the 'cycle, potentially followed by a restart' of the notes."
        ),
    ),
    Schedule(
        name="CyclicLR",
        family="torch",
        title="Cyclical (triangular)",
        curve=tc.cyclic_lr,
        params=(
            Field(
                "base_lr",
                "float",
                None,
                "Bottom of the cycle.",
                low=0.0,
                high=MAX_LR,
                nullable=True,
                derived_from_lr=0.1,
            ),
            Field(
                "max_lr", "float", None, "Top of the cycle.", low=0.0, high=MAX_LR, nullable=True, derived_from_lr=1.0
            ),
            Field("step_size_up", "int", 2000, "Updates from bottom to top.", low=1, high=MAX_STEPS),
            Field(
                "step_size_down",
                "int",
                None,
                "Updates from top to bottom; empty means step_size_up.",
                low=1,
                high=MAX_STEPS,
                nullable=True,
            ),
            Field(
                "mode", "choice", "triangular", "Amplitude policy.", choices=("triangular", "triangular2", "exp_range")
            ),
            Field(
                "gamma",
                "float",
                1.0,
                "Per-update amplitude multiplier in exp_range mode.",
                low=0.0,
                low_open=True,
                high=MAX_GAMMA,
            ),
            *_momentum(0.8, 0.9),
        ),
        latex=r"\eta_m = \eta_{lo} + (\eta_{hi} - \eta_{lo})\,\max(0, 1 - |x|)\,s(\cdot)",
        explanation=(
            "Bounces between base_lr and max_lr along straight lines. triangular2 halves the height every cycle; "
            "exp_range shrinks it by gamma every update. It ignores the optimizer's learning rate: the two bounds "
            "are the whole story."
        ),
    ),
    Schedule(
        name="OneCycleLR",
        family="torch",
        title="One cycle",
        curve=tc.one_cycle_lr,
        notes_title="OneCycle policy",
        params=(
            Field(
                "max_lr",
                "float",
                None,
                "Peak LR.",
                low=0.0,
                low_open=True,
                high=MAX_LR,
                nullable=True,
                derived_from_lr=1.0,
            ),
            Field(
                "total_steps",
                "int",
                None,
                "Updates in the cycle; must cover the run.",
                low=1,
                high=MAX_STEPS,
                derived=lambda span: max(1, span),
                derived_help="all updates after warmup",
            ),
            Field("pct_start", "float", 0.3, "Fraction of the cycle spent rising.", low=0.0, high=1.0),
            Field("anneal_strategy", "choice", "cos", "Shape of each phase.", choices=("cos", "linear")),
            *_momentum(0.85, 0.95),
            Field(
                "div_factor",
                "float",
                25.0,
                "Start LR = max_lr / div_factor.",
                low=0.0,
                low_open=True,
                high=MAX_DIV_FACTOR,
            ),
            Field(
                "final_div_factor",
                "float",
                1e4,
                "End LR = start LR / final_div_factor.",
                low=0.0,
                low_open=True,
                high=MAX_DIV_FACTOR,
            ),
            Field("three_phase", "bool", False, "Go back down to the start LR before the final annealing."),
        ),
        latex=r"\eta: \tfrac{\eta_{max}}{d} \nearrow \eta_{max} \text{ over } p_s T,\ \text{then} \searrow \tfrac{\eta_{max}}{d\,d_f} \text{ by } T-1",
        explanation=(
            "Its own warmup and decay in one: the rate climbs from max_lr/div_factor to max_lr over the first "
            "pct_start of the cycle, then anneals far below the start. The high middle phase makes fast progress "
            "and the long tail lets the model settle. It ignores the optimizer's learning rate, and torch raises "
            "an error if it is stepped past total_steps. In the formula, d is div_factor, d_f final_div_factor, "
            "p_s pct_start and T total_steps."
        ),
    ),
    Schedule(
        name="PolynomialLR",
        family="torch",
        title="Polynomial decay to zero",
        curve=tc.polynomial_lr,
        params=(
            Field("total_iters", "int", 5, "Updates over which the LR decays to zero.", low=1, high=MAX_STEPS),
            Field("power", "float", 1.0, "Exponent of the decay.", low=0.0, high=MAX_POWER),
        ),
        latex=r"\eta_m = \eta_0\left(1 - \frac{\min(m, T)}{T}\right)^{P}",
        explanation=(
            "Decays to exactly zero after total_iters updates and stays there. torch's default total_iters is 5, "
            "far too short for most runs; set it to the run's length for a smooth decay."
        ),
    ),
)

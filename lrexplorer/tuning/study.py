"""A sweep: an Optuna study in the sweep's folder, asked for trials one at a time and told their results.

Each trial is a normal run (its own run folder, named in the trial's `run` attribute); the sweep only
chooses its values and records what it scored. The study lives in ``FOLDER/study.db`` (SQLite, see
`sweep_folder`), so a sweep survives its process: opening the folder again resumes it, and a trial that was running when
the process ended comes back from `interrupted()` with the same number and values, to be resumed.

Samplers: `grid` (every combination of the values once, in an order shuffled by the seed),
`random`, `tpe` (Optuna's Tree-structured Parzen Estimator; it samples at random for its first 10
trials, then models the results). The random and TPE samplers are rebuilt before each trial with a
seed made of the sweep's seed and the trial number, so a stopped and resumed sweep asks for exactly
the trials an uninterrupted one would.

Pruners compare the intermediate losses a trial reports (step = optimizer update) with the other
trials': `median` stops a trial whose loss is worse than the median of earlier trials at the same
step (from the third trial on: small sweeps cannot wait for Optuna's default five), `halving` is
Optuna's successive halving (asynchronous, reduction factor 4). Values are losses: lower is better.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lrexplorer.catalogues.params import FieldError
from lrexplorer.core.limits import MAX_SEED, MAX_TRIALS
from lrexplorer.tuning.space import SweepSpace, space_from_dict
from lrexplorer.tuning.sweep_folder import STUDY_FILE, check_database, guarded, open_storage, prepare_folder

if TYPE_CHECKING:
    import optuna

SAMPLERS = ("grid", "random", "tpe")
PRUNERS = ("none", "median", "halving")
METRICS = ("loss", "eval_loss")
STUDY_NAME = "sweep"
DEFAULT_TRIALS = 10  # random and tpe; a grid defaults to its size
MEDIAN_STARTUP_TRIALS = 2


@dataclass(frozen=True)
class SweepSettings:
    sampler: str = "tpe"
    pruner: str = "none"
    n_trials: int | None = None
    seed: int = 0
    metric: str = "loss"  # what trials report: the training loss, or the evaluation loss

    def __post_init__(self) -> None:
        for name, allowed in (("sampler", SAMPLERS), ("pruner", PRUNERS), ("metric", METRICS)):
            if getattr(self, name) not in allowed:
                raise FieldError(name, f"must be one of {', '.join(allowed)}; got {getattr(self, name)!r}")
        n = self.n_trials
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_TRIALS):
            raise FieldError("n_trials", f"must be an integer from 1 to {MAX_TRIALS}; got {n!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed <= MAX_SEED:
            # numpy's seeding, under every sampler, takes 0 to 2**32 - 1 and nothing else.
            raise FieldError("sweep_seed", f"must be an integer from 0 to {MAX_SEED}; got {self.seed!r}")

    def trials_for(self, space: SweepSpace) -> int:
        if self.sampler == "grid":
            size = math.prod(len(values) for values in space.grid().values())
            if size > MAX_TRIALS:
                raise FieldError("space", f"the grid has {size:,} combinations; at most {MAX_TRIALS} are allowed")
            return min(self.n_trials or size, size)
        return self.n_trials or DEFAULT_TRIALS


class TrialSkipped(Exception):
    """A trial that cannot run (its values make an invalid run, or one that will not fit): it is recorded
    as failed with this reason and the sweep goes on to the next."""


class TrialHandle:
    """One trial, as the code that trains it sees it: values to train with, reports, the verdict."""

    def __init__(self, sweep: Sweep, trial: optuna.Trial) -> None:
        self.sweep = sweep
        self.trial = trial
        self.number: int = trial.number
        self.params: dict[str, Any] = sweep.space.decode(trial.params)  # run field -> value

    def stored(self) -> optuna.trial.FrozenTrial:
        """The trial as the database has it now (another process may have reported or pruned it)."""
        return next(t for t in self.sweep.study.get_trials(deepcopy=False) if t.number == self.number)

    @property
    def run(self) -> str | None:
        return self.stored().user_attrs.get("run")

    @property
    def reported(self) -> dict[int, float]:
        """Losses reported so far, by step (a resumed trial continues after the last)."""
        return dict(self.stored().intermediate_values)

    def set_run(self, run: str) -> None:
        self.trial.set_user_attr("run", run)

    def report(self, step: int, value: float) -> bool:
        """Record the loss at an optimizer update; True when the pruner says to stop this trial."""
        if not math.isfinite(value):
            return False  # the run itself stops on nan; Optuna's pruners cannot rank it
        self.trial.report(value, step)
        if self.trial.should_prune():
            self.trial.set_user_attr("pruned_at", step)  # for the process that tells the verdict
            return True
        return False

    def complete(self, value: float) -> None:
        """The trial's final loss; a trial the pruner stopped is recorded as pruned instead."""
        if "pruned_at" in self.stored().user_attrs:
            self.sweep.study.tell(self.trial, state=_state("PRUNED"))
        elif not math.isfinite(value):
            self.fail(f"the loss became {value}")
        else:
            self.sweep.study.tell(self.trial, value)

    def fail(self, reason: str) -> None:
        self.trial.set_user_attr("error", reason)
        self.sweep.study.tell(self.trial, state=_state("FAIL"))


class Sweep:
    """The study of one sweep folder. Use `open_sweep`."""

    def __init__(self, folder: Path, study: optuna.Study, space: SweepSpace, settings: SweepSettings) -> None:
        self.folder = folder
        self.study = study
        self.space = space
        self.settings = settings
        self.n_trials = settings.trials_for(space)

    def done(self) -> int:
        """Trials that have ended: complete, pruned or failed."""
        return sum(t.state.is_finished() for t in self.study.get_trials(deepcopy=False))

    def finished(self) -> bool:
        return self.done() >= self.n_trials

    def interrupted(self) -> list[TrialHandle]:
        """Trials left running by a process that ended (one sweep trains one trial at a time)."""
        import optuna

        running = self.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
        return [self.trial(t.number) for t in running]

    def ask(self) -> TrialHandle:
        """A new trial, its values chosen by the sampler."""
        import numpy as np

        number = len(self.study.get_trials(deepcopy=False))
        seed = self.settings.seed
        if self.settings.sampler != "grid":  # the grid's order is shuffled by the seed: keep it for every trial
            seed = int(np.random.SeedSequence([seed, number]).generate_state(1)[0])
        self.study.sampler = _sampler(self.settings.sampler, self.space, seed)
        return TrialHandle(self, self.study.ask(fixed_distributions=self.space.distributions()))

    def trial(self, number: int) -> TrialHandle:
        """The trial with this number, for example from the process that trains it."""
        import optuna

        found = [t for t in self.study.get_trials(deepcopy=False) if t.number == number]
        if not found:
            raise FieldError("trial", f"this sweep has no trial {number}")
        return TrialHandle(self, optuna.Trial(self.study, found[0]._trial_id))

    def summary(self) -> dict[str, Any]:
        """`{"trials": [{number, params, value, state, run, rank}], "best": trial or None}`, in the CLI's JSON."""
        trials = self.study.get_trials(deepcopy=False)
        complete = sorted((t for t in trials if t.state.name == "COMPLETE"), key=lambda t: (t.value, t.number))
        ranks = {t.number: i + 1 for i, t in enumerate(complete)}
        rows = [
            {
                "number": t.number,
                "params": self.space.decode(t.params),
                "value": t.value,
                "state": t.state.name.lower(),
                "run": t.user_attrs.get("run"),
                "rank": ranks.get(t.number),
                **({"error": t.user_attrs["error"]} if "error" in t.user_attrs else {}),
            }
            for t in trials
        ]
        best = next((row for row in rows if row["rank"] == 1), None)
        return {"trials": rows, "best": best, "n_trials": self.n_trials, "settings": asdict(self.settings)}


def open_sweep(folder: str | Path, space: SweepSpace | None = None, settings: SweepSettings | None = None) -> Sweep:
    """Create the sweep in `folder`, or resume the one there (then `space`/`settings` may be omitted).

    Resuming with another space, sampler, pruner, seed or metric is refused; `n_trials` may change.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    folder = Path(folder)
    path = folder.resolve() / STUDY_FILE
    if path.exists():
        check_database(path)
    else:  # check everything before the folder and the database exist
        check_start(folder, space, settings)
        prepare_folder(folder)
    storage = open_storage(path)
    stored = guarded(path, lambda: _stored(storage))
    if stored is None:  # a new sweep, or a database left by a start that failed before recording one
        space, settings = check_start(folder, space, settings)
    else:
        space, settings = _resume(stored, space, settings)
    study = optuna.create_study(
        storage=storage,
        study_name=STUDY_NAME,
        direction="minimize",
        load_if_exists=True,
        sampler=_sampler(settings.sampler, space, settings.seed),
        pruner=_pruner(settings.pruner),
    )
    study.set_user_attr("space", space.to_yaml())
    study.set_user_attr("settings", asdict(settings))
    return Sweep(folder, study, space, settings)


def load_sweep(folder: str | Path) -> Sweep:
    """The sweep in `folder`, to look at (the Tune page): nothing is written. FieldError when the folder holds
    no sweep, or its database is damaged."""
    import optuna

    path = Path(folder).resolve() / STUDY_FILE
    if not path.is_file():
        raise FieldError("sweep", f"{Path(folder).name[:100]} holds no sweep yet")
    check_database(path)
    storage = open_storage(path)
    stored = guarded(path, lambda: _stored(storage))
    if stored is None:
        raise FieldError("sweep", f"{path} holds no sweep yet")
    space, settings = _resume(stored, None, None)
    study = guarded(
        path,
        lambda: optuna.load_study(
            study_name=STUDY_NAME,
            storage=storage,
            sampler=_sampler(settings.sampler, space, settings.seed),
            pruner=_pruner(settings.pruner),
        ),
    )
    return Sweep(Path(folder), study, space, settings)


def run_trials(
    sweep: Sweep, train: Callable[[TrialHandle], float | None], should_stop: Callable[[], bool] = lambda: False
) -> None:
    """Train trials one at a time until the sweep has its trials or `should_stop()` says so.

    Interrupted trials come first. `train(handle)` returns the trial's final loss, or None when it
    was stopped before the end (the trial stays interrupted and the sweep stops here). `TrialSkipped`
    fails the trial and goes on; any other exception fails the trial, with its message, and is raised again.
    """
    pending = sweep.interrupted()
    while not should_stop() and (pending or not sweep.finished()):
        handle = pending.pop(0) if pending else sweep.ask()
        try:
            value = train(handle)
        except TrialSkipped as exc:
            handle.fail(str(exc))
            continue
        except Exception as exc:
            handle.fail(f"{type(exc).__name__}: {exc}")
            raise
        if value is None:
            return
        handle.complete(value)


def check_start(
    folder: Path, space: SweepSpace | None, settings: SweepSettings | None
) -> tuple[SweepSpace, SweepSettings]:
    """(space, settings) of a new sweep in `folder`, or FieldError for what would refuse it; writes nothing."""
    if space is None:
        raise FieldError("space", f"{folder} holds no sweep to resume; give a space to start one")
    settings = settings or SweepSettings()
    settings.trials_for(space)
    _sampler(settings.sampler, space, settings.seed)  # refuses what the sampler would, before the database exists
    return space, settings


def _stored(storage: Any) -> dict[str, Any] | None:
    """The space and settings recorded in the database, or None when it holds no sweep yet."""
    try:
        study_id = storage.get_study_id_from_name(STUDY_NAME)
    except KeyError:
        return None
    attrs = storage.get_study_user_attrs(study_id)
    return attrs if "space" in attrs and "settings" in attrs else None


def _resume(
    stored: dict[str, Any], space: SweepSpace | None, settings: SweepSettings | None
) -> tuple[SweepSpace, SweepSettings]:
    try:
        was_space = space_from_dict(stored["space"])
        was = SweepSettings(**stored["settings"])
    except (FieldError, TypeError) as exc:
        raise FieldError(
            "output_dir", f"the sweep's study.db records a space or settings that cannot be used ({exc})"
        ) from None
    if space is not None and space != was_space:
        raise FieldError("space", "differs from the space this sweep was started with; start a new sweep folder")
    if settings is None:
        return was_space, was
    for f in fields(SweepSettings):
        if f.name != "n_trials" and getattr(settings, f.name) != getattr(was, f.name):
            raise FieldError(f.name, f"this sweep was started with {getattr(was, f.name)!r}; resume it with the same")
    return was_space, settings if settings.n_trials is not None else was


def _sampler(kind: str, space: SweepSpace, seed: int) -> Any:
    import optuna

    if kind == "grid":

        class AskTellGrid(optuna.samplers.GridSampler):
            def after_trial(self, *args: Any, **kwargs: Any) -> None:
                pass  # GridSampler stops `study.optimize` here, which ask/tell has not started; n_trials stops us

        return AskTellGrid(space.grid(), seed=seed)
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def _pruner(kind: str) -> Any:
    import optuna

    if kind == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=MEDIAN_STARTUP_TRIALS)
    if kind == "halving":
        return optuna.pruners.SuccessiveHalvingPruner()
    return optuna.pruners.NopPruner()


def _state(name: str) -> Any:
    import optuna

    return optuna.trial.TrialState[name]

"""`lrexplorer memory --task generate`: the memory of one `model.generate` call, and the largest batch and
longest prompt that fit a GPU. The memory command's own flags (--gpu, --check, --margin, --json) mean what
they mean for a training step; the training step's settings are refused."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from lrexplorer.catalogues.params import MEMORY, RENAMED_BY_OLD
from lrexplorer.catalogues.params.generation import GENERATION_NAMES, SHARED_WITH_TRAINING
from lrexplorer.cli.exit_codes import Exit
from lrexplorer.cli.options import advisor_gpu, field_values, given_fields
from lrexplorer.core.fields import FieldError

REQUIRED = ("model", "batch_size", "prompt_length", "max_new_tokens")
TAKES = (*SHARED_WITH_TRAINING, *GENERATION_NAMES)


def check_flags(args: argparse.Namespace) -> dict[str, Any]:
    """The fields given, refusing a training step's settings and asking for the required ones."""
    given = given_fields(args, MEMORY)
    current = {RENAMED_BY_OLD[n].new if n in RENAMED_BY_OLD else n: n for n in given}
    stray = [current[n] for n in current if n not in TAKES]
    if stray:
        raise FieldError(
            stray[0],
            f"is a training step's setting; --task generate takes --{', --'.join(TAKES)} (and --gpu, --check, "
            "--margin, --json)",
        )
    if args.simulate:
        raise FieldError("simulate", "the generation estimate is analytic only (generate cannot run on fake tensors)")
    missing = [n for n in REQUIRED if n not in current]
    if missing:
        raise FieldError.collect([FieldError(n, "is required with --task generate") for n in missing])
    return given


def run_generate(args: argparse.Namespace) -> int:
    from lrexplorer.memory.advice.budget import check_margin
    from lrexplorer.memory.advice.generation_fit import advise_generation, fit_text, generation_text
    from lrexplorer.memory.analytic.generate import estimate_generation
    from lrexplorer.memory.generation import generation_setup_from_values
    from lrexplorer.memory.gpus import Fit, resolve_gpus
    from lrexplorer.memory.model_source import resolve_model

    check_flags(args)
    values, notes = field_values(args, MEMORY)
    for line in notes:
        print(f"note: {line}", file=sys.stderr)
    source = resolve_model(values["model"])
    setup = generation_setup_from_values(values, source.config)
    positions = source.config.get("max_position_embeddings")
    positions = positions if isinstance(positions, int) else None
    est = estimate_generation(source.architecture, setup, positions)
    check_margin(args.margin)
    gpus, note = resolve_gpus(args.gpu) if setup.device == "cuda" else ([], None)
    target = advisor_gpu(gpus, note, setup.device, args.check)
    attention = setup.attention(source.architecture)
    fits = [Fit(g, est.peak_bytes).to_dict(setup, attention) for g in gpus]
    data = {**est.to_dict(), "model": source.label, "gpus": fits}
    fit = advise_generation(source.architecture, setup, target, args.margin, positions) if target else None
    cannot = Fit(target, 0).problems(setup, attention) if target is not None else []
    if fit is not None:
        data.update(fit.to_dict())
    if args.json:
        json.dump(data, args.out, indent=1)
        args.out.write("\n")
    else:
        print(generation_text(est, source.label, fits, note), file=args.out)
        if fit is not None:
            print("\n" + fit_text(fit, setup), file=args.out)
        if cannot and target is not None:
            print(f"{target.name} cannot run this setup, whatever its memory: {'; '.join(cannot)}", file=args.out)
    return Exit.FAILED if args.check and fit is not None and (not fit.fits or cannot) else Exit.OK

"""The views lrexplorer passes to library internals in place of their real objects hold every attribute the
INSTALLED library reads: the FSDP2 simulation's Accelerator view against accelerate's `fsdp2_prepare_model`,
the optimizer's Trainer view against `Trainer.create_optimizer`. Read from the library's source, so a release
that reads one more attribute fails here (accelerate 1.16 began to read `accelerator.device`)."""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

Reads = dict[tuple[str, ...], set[str]]  # attribute chain used of the object -> the functions that use it


def _chain(node: ast.expr, obj: str) -> tuple[str, ...] | None:
    """("a", "b") for the expression `obj.a.b`, None for anything not rooted at the name `obj`."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return tuple(reversed(parts)) if parts and isinstance(node, ast.Name) and node.id == obj else None


def _parameter_given(callee: Callable[..., Any], call: ast.Call, obj: str) -> str | None:
    """The name `callee` gives to the object `obj` passed to it in `call` (None when it is not passed)."""
    params = list(inspect.signature(callee).parameters)
    for i, arg in enumerate(call.args):
        if isinstance(arg, ast.Name) and arg.id == obj and i < len(params):
            return params[i]
    return next((kw.arg for kw in call.keywords if isinstance(kw.value, ast.Name) and kw.value.id == obj), None)


def attribute_reads(function: Callable[..., Any], obj: str, owner: type | None = None) -> Reads:
    """Every chain `obj.a.b` (and `getattr(obj, "a")`) used in `function`, and in the functions it passes the
    object to: functions of the same module given it as an argument, and, with `owner`, the methods of `owner`
    called as `obj.method(...)`, each under the name it gives the object."""
    reads: Reads = {}
    todo, seen = [(function, obj)], set()
    while todo:
        fn, name = todo.pop()
        if (fn, name) in seen:
            continue
        seen.add((fn, name))
        module = inspect.getmodule(fn)
        for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(fn)))):
            if isinstance(node, ast.Attribute) and (found := _chain(node, name)):
                reads.setdefault(found, set()).add(fn.__qualname__)
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Name) and func.id in ("getattr", "hasattr") and len(node.args) >= 2:
                target, attr = node.args[0], node.args[1]
                if isinstance(target, ast.Name) and target.id == name and isinstance(attr, ast.Constant):
                    reads.setdefault((str(attr.value),), set()).add(fn.__qualname__)
            elif isinstance(func, ast.Name) and inspect.isfunction(callee := getattr(module, func.id, None)):
                if (param := _parameter_given(callee, node, name)) is not None:
                    todo.append((callee, param))
            elif owner is not None and isinstance(func, ast.Attribute) and _chain(func, name) == (func.attr,):
                method = inspect.getattr_static(owner, func.attr, None)
                if inspect.isfunction(method):  # a plain method (not a staticmethod): its first parameter is `obj`
                    todo.append((method, next(iter(inspect.signature(method).parameters))))
    return reads


def missing(view: object, reads: Reads) -> list[str]:
    """The chains of `reads` that `view` lacks, followed as far as lrexplorer's own objects go (past them
    it is the library's real object, e.g. the FSDP plugin, which has what the library reads)."""
    out = []
    for chain_, where in sorted(reads.items()):
        obj: Any = view
        for attr in chain_:
            if not (type(obj).__module__.startswith("lrexplorer") or isinstance(obj, SimpleNamespace)):
                break
            if not hasattr(obj, attr):
                out.append(f"{'.'.join(chain_)} (read in {', '.join(sorted(where))})")
                break
            obj = getattr(obj, attr)
    return out


def accelerate_reads() -> Reads:
    from accelerate.utils.fsdp_utils import fsdp2_prepare_model

    return attribute_reads(fsdp2_prepare_model, "accelerator")


def accelerator_view() -> Any:
    from lrexplorer.memory.pytorch.simulate_parallel import FsdpAcceleratorView, FsdpPluginState

    plugin = object()  # accelerate's own plugin object; the view's job ends where it starts
    return FsdpAcceleratorView(
        state=FsdpPluginState(fsdp_plugin=plugin), mixed_precision="bf16", torch_device_mesh=None
    )


def test_the_accelerator_view_has_every_attribute_fsdp2_prepare_model_reads() -> None:
    import accelerate

    reads = accelerate_reads()
    # The source was read: what every release in the range reads is there, and so is its helper's.
    assert {("state", "fsdp_plugin"), ("mixed_precision",), ("is_main_process",), ("device",)} <= reads.keys()
    assert "fsdp2_load_full_state_dict" in set().union(*reads.values()), reads
    assert missing(accelerator_view(), reads) == [], accelerate.__version__


def test_the_check_catches_the_old_stand_in() -> None:
    """The SimpleNamespace the simulation used before accelerate 1.16 lacks `device`, which every release in
    the range reads (1.15 for ignored modules, 1.16 always)."""
    old = SimpleNamespace(
        state=SimpleNamespace(fsdp_plugin=object()),
        mixed_precision="bf16",
        torch_device_mesh=None,
        parallelism_config=SimpleNamespace(fsdp_dim_names=("dp_shard",)),
        is_main_process=False,
    )
    assert any(m.startswith("device ") for m in missing(old, accelerate_reads()))


def test_the_trainer_view_has_every_attribute_create_optimizer_reads() -> None:
    import torch
    import transformers
    from transformers import Trainer

    from lrexplorer.memory.pytorch.realmodel import OptimizerTrainerView

    reads = attribute_reads(Trainer.create_optimizer, "self", owner=Trainer)
    assert {("args", "weight_decay"), ("optimizer",), ("get_decay_parameter_names",)} <= reads.keys(), reads
    view = OptimizerTrainerView(args=object(), model=torch.nn.Linear(1, 1))
    assert missing(view, reads) == [], transformers.__version__


def test_the_trainer_view_builds_the_trainer_s_optimizer() -> None:
    """The view's methods are the Trainer's: weight decay off for biases and norms, on for the rest."""
    import torch

    from lrexplorer.memory.pytorch.realmodel import build_optimizer
    from lrexplorer.memory.setup import TrainingSetup

    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4))
    optimizer = build_optimizer(model, TrainingSetup(device="cpu", dtype="float32", max_length=8))
    decayed, plain = optimizer.param_groups
    assert [p.shape for p in decayed["params"]] == [torch.Size([4, 4])]
    assert len(plain["params"]) == 3 and plain["weight_decay"] == 0.0


@pytest.mark.parametrize("error", [AttributeError("no attribute 'device'"), TypeError("missing 1 argument")])
def test_a_library_error_in_the_fsdp2_preparation_names_accelerate_and_its_range(monkeypatch, error) -> None:
    from accelerate.utils import fsdp_utils

    from lrexplorer.core.compat import UnsupportedVersion
    from lrexplorer.memory.pytorch.simulate_parallel import shard_model
    from lrexplorer.memory.setup import TrainingSetup

    def broken(accelerator: Any, model: Any) -> Any:
        raise error

    monkeypatch.setattr(fsdp_utils, "fsdp2_prepare_model", broken)
    setup = TrainingSetup(device="cpu", dtype="float32", fsdp=True, num_gpus=2)
    with pytest.raises(UnsupportedVersion, match=r"inside accelerate .*accelerate >=1\.15,<1\.17") as err:
        shard_model(object(), setup, mesh=None)  # type: ignore[arg-type]
    assert str(error) in str(err.value)

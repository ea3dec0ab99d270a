"""Which attention kernel a run really executed, read from the operators of its first optimizer step.

transformers records the implementation it dispatched to (`config._attn_implementation`), but for sdpa
torch picks the backend per call (flash, memory-efficient, cuDNN, math), and a flash package can fall
back. The torch profiler names the operators that ran; their names tell the kernel. The record goes to
the run's status as `attention` and is shown on the Train page.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from lrexplorer.runs.folder import store

# aten operator of each SDPA backend (forward), as the profiler names it.
SDPA_OPS = {
    "aten::_scaled_dot_product_flash_attention_for_cpu": "SDPA flash kernel (CPU)",
    "aten::_scaled_dot_product_flash_attention": "SDPA flash backend",
    "aten::_scaled_dot_product_efficient_attention": "SDPA memory-efficient backend",
    "aten::_scaled_dot_product_cudnn_attention": "SDPA cuDNN backend",
    "aten::_scaled_dot_product_fused_attention_overrideable": "SDPA device-specific fused backend",
    "aten::_scaled_dot_product_attention_math": "SDPA math backend",
}
HOW = "the torch profiler's operator names in the first optimizer step"


def kernel_from_ops(ops: set[str], implementation: str | None) -> str:
    """A readable name of the attention kernel, from the operator names of a profiled step."""
    ran = [label for op, label in SDPA_OPS.items() if op in ops]
    if ran:
        return " + ".join(ran)
    flash = sorted(op for op in ops if "flash_attn" in op)
    if flash:
        return f"{implementation} ({', '.join(flash[:2])})"
    if implementation == "eager":
        return "eager (matmul + softmax)"
    # A kernel that launches without a named operator (flash-attn 4's CuTe kernels): transformers' word.
    return f"{implementation} (no attention operator named; transformers dispatched it)"


class AttentionProbe(TrainerCallback):
    """Profile the first optimizer step of this process and record the attention kernel that ran."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.profiler: Any = None
        self.done = False

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.done or self.profiler is not None:
            return
        from torch.profiler import ProfilerActivity, profile

        self.profiler = profile(activities=[ProfilerActivity.CPU])
        self.profiler.__enter__()

    def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        self.finish(model)

    def on_train_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        self.finish(model)

    def finish(self, model: Any) -> None:
        if self.profiler is None or self.done:
            return
        self.profiler.__exit__(None, None, None)
        ops = {event.name for event in self.profiler.events()}
        self.profiler, self.done = None, True
        # A PEFT model forwards `config` to the model it wraps.
        implementation = getattr(getattr(model, "config", None), "_attn_implementation", None)
        store.update_status(
            self.run_dir,
            attention={"implementation": implementation, "kernel": kernel_from_ops(ops, implementation), "how": HOW},
        )

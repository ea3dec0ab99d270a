"""The Train form's "Processes and sharding" section: how many processes train the run and how they
share the model, with what this machine offers said above the fields. A choice the machine cannot run
(FSDP on the CPU, DeepSpeed without its package) is disabled with the reason and kept at its default,
so a loaded config cannot leave a value the user could no longer change."""

from __future__ import annotations

from typing import Any

import streamlit as st

from lrexplorer.catalogues.params import Field
from lrexplorer.core.facts import Facts
from lrexplorer.core.hardware import Hardware
from lrexplorer.rules.distributed import max_processes, unavailable


def machine_line(facts: Facts, hw: Hardware, use_cpu: bool) -> str:
    top, why = max_processes({"use_cpu": use_cpu}, facts)
    if hw.gpus:
        names = ", ".join(sorted({g.name for g in hw.gpus}))
        have = f"{len(hw.gpus)} GPU{'s' if len(hw.gpus) != 1 else ''} ({names})"
    else:
        have = f"no GPU: CPU processes talk over gloo ({facts.cpu_cores} cores)"
    where = "CPU processes (use_cpu)" if use_cpu and hw.gpus else "processes"
    return f"This machine: {have}. Up to {top} {where}: {why}."


def distributed_section(fields: list[Field], facts: Facts, hw: Hardware) -> dict[str, Any]:
    """The section's widgets; returns field -> raw value, as the rest of the form does."""
    from lrexplorer.app.common.run_inputs import from_widget, key, to_widget, widget

    use_cpu = bool(st.session_state.get(key("use_cpu"), False))
    st.caption(machine_line(facts, hw, use_cpu))
    off = unavailable(facts, use_cpu)
    raw: dict[str, Any] = {}
    said: dict[str, str] = {}  # reason -> the field it was first shown under (fsdp_config shares fsdp's)
    cols = st.columns(2)
    for i, p in enumerate(fields):
        reason = off.get(p.name)
        if reason is not None:
            st.session_state[key(p.name)] = to_widget(p, p.default)
        with cols[i % 2]:
            raw[p.name] = from_widget(p, widget(p, disabled=reason is not None))
            if reason is not None:
                first = said.setdefault(reason, p.name)
                st.caption(f":material/block: {reason}" if first == p.name else f":material/block: as for {first}")
    return raw

"""The sidebar every page shares: what this machine has (GPUs, CPU, RAM)."""

from __future__ import annotations

import streamlit as st

from lrexplorer.core.hardware import Hardware
from lrexplorer.core.units import GIB


def hardware_sidebar(hw: Hardware) -> None:
    """The sidebar block listing the GPUs (or saying there is none) and the CPU and RAM."""
    st.sidebar.markdown("#### This machine")
    if not hw.gpus:
        st.sidebar.markdown(":material/memory: **No NVIDIA GPU detected**")
        st.sidebar.caption("Schedules and memory estimates work without one; training runs on the CPU.")
    for gpu in hw.gpus:
        cc = f" · sm {gpu.compute_capability[0]}.{gpu.compute_capability[1]}" if gpu.compute_capability else ""
        st.sidebar.markdown(f":material/memory: **GPU {gpu.index}: {gpu.name}**")
        st.sidebar.caption(
            f"{gpu.free_gib:.1f} of {gpu.total_gib:.1f} GiB free{cc}"
            + (f" · driver {gpu.driver}" if gpu.driver else "")
        )
    cpu = hw.cpu
    cores = (
        f"{cpu.logical_cores} cores"
        if cpu.physical_cores in (None, cpu.logical_cores)
        else (f"{cpu.physical_cores} cores / {cpu.logical_cores} threads")
    )
    st.sidebar.markdown(f":material/developer_board: **CPU:** {cpu.model}")
    st.sidebar.caption(f"{cores} · RAM {cpu.available_ram_bytes / GIB:.1f} of {cpu.total_ram_bytes / GIB:.1f} GiB free")

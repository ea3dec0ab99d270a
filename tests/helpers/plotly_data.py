"""Reading the figures a page sent: Plotly writes numpy arrays as base64 typed arrays."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np


def array(value: Any) -> np.ndarray:
    """A trace's x or y as an array: a base64 typed array ({"dtype", "bdata"}) decoded, a list as it is."""
    if isinstance(value, dict):
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
    return np.asarray(value)

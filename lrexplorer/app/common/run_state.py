"""The run form's values: the Train page's settings (`RUN_FORM`, in the `train.` namespace and the Train
page's address, non-defaults only), how a config fills them, and the input of one field. The Train page
draws the form; the Tune page draws the same values under its own widget keys, as the run it tunes; the
Guide's buttons and Tune's "use this LR" fill them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lrexplorer.app.common.field_widgets import changed, field_input, from_widget, query_values, to_widget
from lrexplorer.app.common.page_state import Decoded, PageState
from lrexplorer.catalogues import builtin
from lrexplorer.catalogues.params import CATALOGUE, CATALOGUE_LIST, TRAIN, Field
from lrexplorer.core.fields import str_to_bool

QUEUE = "queue"  # the Train page's one setting outside the catalogue: wait when the device is busy
RUN_VIEW = "run"  # ?run=ID shows a run instead of the form


def _defaults() -> dict[str, Any]:
    return {**{p.name: to_widget(p, p.default) for p in CATALOGUE_LIST}, QUEUE: False}


def _to_query(values: Mapping[str, Any]) -> dict[str, str]:
    return changed(values, _defaults())


def _from_query(query: Mapping[str, str]) -> Decoded:
    rest = {k: v for k, v in query.items() if k != QUEUE}
    values, notes, problems = query_values(rest, CATALOGUE)
    if QUEUE in query:
        try:
            values[QUEUE] = str_to_bool(query[QUEUE])
        except ValueError:
            problems.append(f"link parameter `{QUEUE}` ignored: must be true or false")
    return values, notes, problems


RUN_FORM = PageState("train", "train", _defaults, _to_query, _from_query, views=(RUN_VIEW,))


def config_values(config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The form's values for a run's config (None: the defaults). output_dir is left empty: a new run gets
    its own folder."""
    config = dict(config or {})
    return {
        p.name: to_widget(p, config.get(p.name, p.default) if p.name != "output_dir" else p.default)
        for p in CATALOGUE_LIST
    }


def load_form(config: Mapping[str, Any] | None = None) -> None:
    """Fill the form with a run's config (None: the defaults); the form shows it the next time it is drawn."""
    RUN_FORM.load(config_values(config))


def config_query(config: Mapping[str, Any]) -> dict[str, str]:
    """The Train page's address showing the form filled with a run's config (for a link from another page)."""
    return RUN_FORM.to_query({**RUN_FORM.defaults(), **config_values(config)})


def raw_values() -> dict[str, Any]:
    """The form's values as `RunSpec.from_dict` reads them (field -> raw value), without drawing it."""
    values = RUN_FORM.values()
    return {p.name: from_widget(p, values[p.name]) for p in CATALOGUE_LIST}


def source_options(p: Field) -> list[str] | None:
    """The built-in choices of the model and dataset fields (a path or Hub id can be typed too)."""
    if p.name == "model":
        return [builtin.PREFIX + name for name in builtin.BUILTIN_MODELS]
    if p.name == "dataset":
        return [builtin.PREFIX + name for name in builtin.builtin_datasets()]
    return None


def field_widget(p: Field, prefix: str | None = None, disabled: bool = False) -> Any:
    """The input of one field of the run form; returns its raw value."""
    options = source_options(p)
    value = field_input(
        p,
        RUN_FORM.bind(p.name, prefix),
        tool=TRAIN,
        options=options,
        disabled=disabled,
        extra_help="Pick a built-in or type a path or Hub id." if options else "",
    )
    return from_widget(p, value)

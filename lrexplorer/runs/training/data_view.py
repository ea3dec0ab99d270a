"""What the Trainer trains on: the totals of the prepared train split and a few sequences token by token.

Everything comes from TRL's own preparation (`prepare`): `rows` as loaded, `sequences` the Trainer batches
(rows kept after the cut, or packed sequences), their `tokens`, the `loss_tokens` the loss averages over,
the rows cut at max_length and the tokens that cut loses. A token is in the loss when its label is not
-100 and something predicts it: the loss scores position i against label i + 1, so the first token of each
sequence the model sees is never predicted. A sequence is one document under padding-free batches (BFD
packing keeps each document's length in `seq_lengths`; the collator restarts positions there and masks the
document's first label) and a whole row otherwise (wrapped packing lets documents see each other).

Each token of an example has a kind: `trained`, `masked` (label -100: a prompt or another role's turn),
`first` (has a label but starts its sequence, so nothing predicts it) or `cut` (beyond max_length: the
Trainer never sees it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from lrexplorer.core.limits import MAX_SHOWN_SEQUENCES
from lrexplorer.runs.training.prepare import Prepared, column, prepare

IGNORE = -100  # the label of a token outside the loss (transformers' ignore_index)
MAX_EXAMPLES = MAX_SHOWN_SEQUENCES
MAX_SHOWN_TOKENS = 4096  # tokens of one example drawn at most; the rest is summarised


@dataclass(frozen=True)
class Token:
    id: int
    text: str
    kind: str  # trained, masked, first, cut
    doc: int  # the document (example) of the sequence it belongs to, from 0


@dataclass(frozen=True)
class Example:
    title: str  # "row 3" or "sequence 0 (4 examples)"
    tokens: list[Token]
    hidden: int = 0  # tokens not drawn (beyond MAX_SHOWN_TOKENS)
    dropped: bool = False  # the row has no trained token left after the cut: TRL drops it

    def spans(self) -> list[tuple[str, bool, str]]:
        """(kind, starts a packed example after the first, text): runs of consecutive tokens of one kind and
        document, for drawing."""
        out: list[tuple[str, bool, str]] = []
        doc = 0
        for t in self.tokens:
            if out and t.doc == doc and out[-1][0] == t.kind:
                out[-1] = (t.kind, out[-1][1], out[-1][2] + t.text)
            else:
                out.append((t.kind, t.doc != doc, t.text))
                doc = t.doc
        return out


@dataclass(frozen=True)
class DataView:
    rows: int
    sequences: int
    tokens: int
    loss_tokens: int
    truncated_rows: int
    tokens_lost: int
    dropped_rows: int
    padding_free: bool
    packing: bool
    packing_strategy: str | None
    max_length: int | None
    examples: list[Example] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def doc_starts(prepared: Prepared) -> np.ndarray:
    """Index, in the sequences laid end to end, of the first token of every sequence the model sees."""
    _, offsets = column(prepared.data, "input_ids")
    if prepared.padding_free and "seq_lengths" in prepared.data.column_names:
        docs, _ = column(prepared.data, "seq_lengths")
        return np.concatenate([[0], np.cumsum(docs)[:-1]]).astype(np.int64) if docs.size else docs
    return offsets[:-1]


def loss_tokens(prepared: Prepared) -> int:
    """Tokens whose label the loss scores over one epoch (what the Trainer's num_items_in_batch adds up)."""
    labels, _ = column(prepared.data, "labels")
    starts = doc_starts(prepared)
    labelled = labels != IGNORE
    return int(labelled.sum() - labelled[starts].sum()) if labels.size else 0


def data_view(values: dict[str, Any], examples: int = 3) -> DataView:
    """The data view of a run's values (validated catalogue values); FieldError for data TRL refuses."""
    run = prepare(values)
    raw = prepare(values, raw=True)
    max_length, packing, strategy = values["max_length"], values["packing"], values["packing_strategy"]
    raw_ids, raw_offsets = column(raw.data, "input_ids")
    raw_lengths = np.diff(raw_offsets)
    ids, _ = column(run.data, "input_ids")
    # Only unpacked rows and BFD packing cut a long row; bfd_split and wrapped spread its tokens over sequences.
    cuts = max_length is not None and (not packing or strategy == "bfd")
    view = DataView(
        rows=run.rows,
        sequences=run.sequences,
        tokens=int(ids.size),
        loss_tokens=loss_tokens(run),
        truncated_rows=int((raw_lengths > max_length).sum()) if cuts else 0,
        tokens_lost=int(raw_ids.size - ids.size),
        dropped_rows=0 if packing else run.rows - run.sequences,
        padding_free=run.padding_free,
        packing=packing,
        packing_strategy=strategy if packing else None,
        max_length=max_length,
    )
    count = max(0, min(examples, MAX_EXAMPLES))
    shown = packed_examples(run, count) if packing else row_examples(raw, max_length, range(count))
    if packing and cuts and view.truncated_rows and count:
        # BFD packing drops what a row has beyond max_length, out of sight in the packed sequences: show a row it cuts.
        first_cut = int(np.flatnonzero(raw_lengths > max_length)[0])
        shown += row_examples(raw, max_length, [first_cut])
    return DataView(**{**asdict(view), "examples": shown})


def _texts(tokenizer: Any, ids: list[int]) -> list[str]:
    return [str(t) for t in tokenizer.batch_decode([[i] for i in ids])]


def row_examples(raw: Prepared, max_length: int | None, rows: Iterable[int]) -> list[Example]:
    """These rows whole, from the uncut preparation: tokens beyond max_length marked `cut`."""
    ids, offsets = column(raw.data, "input_ids")
    labels, _ = column(raw.data, "labels")
    out = []
    for row in (r for r in rows if r < raw.sequences):
        a, b = int(offsets[row]), int(offsets[row + 1])
        keep = b - a if max_length is None else min(b - a, max_length)
        shown = min(b - a, MAX_SHOWN_TOKENS)
        row_ids = ids[a : a + shown].tolist()
        kinds = [_kind(int(labels[a + i]), i == 0) if i < keep else "cut" for i in range(shown)]
        tokens = [Token(t, text, kind, 0) for t, text, kind in zip(row_ids, _texts(raw.tokenizer, row_ids), kinds)]
        dropped = not bool((labels[a : a + keep] != IGNORE).any())
        out.append(Example(f"row {row}", tokens, hidden=(b - a) - shown, dropped=dropped))
    return out


def packed_examples(run: Prepared, count: int) -> list[Example]:
    """The first packed sequences, each document's tokens numbered, the first of each document marked."""
    ids, offsets = column(run.data, "input_ids")
    labels, _ = column(run.data, "labels")
    has_docs = "seq_lengths" in run.data.column_names
    docs, doc_offsets = column(run.data, "seq_lengths") if has_docs else (ids[:0], offsets[:0])
    out = []
    for seq in range(min(count, run.sequences)):
        a, b = int(offsets[seq]), int(offsets[seq + 1])
        lengths = docs[doc_offsets[seq] : doc_offsets[seq + 1]].tolist() if has_docs else [b - a]
        doc_of = np.repeat(np.arange(len(lengths)), lengths)
        starts = set(np.cumsum([0, *lengths[:-1]]).tolist()) if run.padding_free else {0}
        shown = min(b - a, MAX_SHOWN_TOKENS)
        seq_ids = ids[a : a + shown].tolist()
        tokens = [
            Token(t, text, _kind(int(labels[a + i]), i in starts), int(doc_of[i]))
            for i, (t, text) in enumerate(zip(seq_ids, _texts(run.tokenizer, seq_ids)))
        ]
        what = f"{len(lengths)} example{'s' if len(lengths) != 1 else ''}" if has_docs else f"{b - a} tokens"
        out.append(Example(f"sequence {seq} ({what})", tokens, hidden=(b - a) - shown))
    return out


def _kind(label: int, first: bool) -> str:
    if label == IGNORE:
        return "masked"
    return "first" if first else "trained"

"""Regenerate the bundled assets: `python -m lrexplorer.catalogues.make_assets`.

Writes assets/datasets/NAME/{train,test}.jsonl from `builtin_data` and trains the byte-level BPE
tokenizer of the built-in model on their text, saved in the Hub's format with a chat template.
The files are committed, so a fresh clone never runs this; it documents how they were made.
"""

from __future__ import annotations

import json
from pathlib import Path

from lrexplorer.catalogues.builtin import DATASETS_DIR, TOKENIZER_DIR
from lrexplorer.catalogues.builtin_data import all_datasets, all_texts

VOCAB_SIZE = 1024
PAD, END = "<|pad|>", "<|end|>"
ROLE_TOKENS = ["<|system|>", "<|user|>", "<|assistant|>"]

# Each message is `<|role|>\n{content}<|end|>\n`. The assistant part sits inside {% generation %}
# so TRL's assistant_only_loss can mask everything else; <|end|> is the EOS the model learns to emit.
CHAT_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'assistant' -%}"
    "{{ '<|assistant|>\n' }}{% generation %}{{ message['content'] + '<|end|>' }}{% endgeneration %}{{ '\n' }}"
    "{%- else -%}"
    "{{ '<|' + message['role'] + '|>\n' + message['content'] + '<|end|>\n' }}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{ '<|assistant|>\n' }}{%- endif -%}"
)


def dataset_lines(rows: list[dict]) -> str:
    return "".join(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in rows)


def write_datasets(root: Path = DATASETS_DIR) -> None:
    for name, splits in all_datasets().items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for split, rows in splits.items():
            (root / name / f"{split}.jsonl").write_text(dataset_lines(rows), encoding="utf-8")


def train_tokenizer(out: Path = TOKENIZER_DIR) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=[PAD, END, *ROLE_TOKENS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(list(all_texts()), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=END,
        pad_token=PAD,
        additional_special_tokens=ROLE_TOKENS,
        model_max_length=512,
        chat_template=CHAT_TEMPLATE,
    )
    out.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(str(out))


if __name__ == "__main__":
    write_datasets()
    train_tokenizer()
    print(f"wrote {DATASETS_DIR} and {TOKENIZER_DIR}")

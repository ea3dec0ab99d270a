"""Pre-train the lab's base model: `python -m lrexplorer.knowledge.pretrain [--steps N] [--out DIR]`.

A small Llama (about 3 million parameters) and its own byte-level BPE tokenizer, trained from scratch
with the transformers `Trainer` on the synthetic corpus of `corpus.PretrainCorpus`: reading exercises
first, then statements and biographies of invented people, closed-book questions about most of them,
and more reading. The same seed gives the same corpus, tokenizer and initial weights. Steps took 3 to
5 s each with bf16 autocast on a 2-core machine shared with other jobs (load average 10 to 17), so the
default 500 steps take about 40 minutes there. The result is saved in the Hub's layout (config, float16 safetensors, tokenizer, generation
config) and checked on questions it was not trained on: reading exercises about new people, and
closed-book questions about the pre-training people whose questions it never saw.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path
from typing import Any

from lrexplorer.knowledge.assets import MODEL_DIR
from lrexplorer.knowledge.corpus import PretrainCorpus
from lrexplorer.knowledge.cpu import passive_openmp_wait
from lrexplorer.knowledge.score import Question, choice_accuracy, score_questions

SEED = 0
STEPS = 500
BATCH = 24
LEARNING_RATE = 2e-3
VOCAB_SIZE = 1024
PAD, END = "<|pad|>", "<|end|>"
MODEL_CONFIG: dict[str, Any] = {
    "hidden_size": 256,
    "intermediate_size": 512,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 4,
    "max_position_embeddings": 256,
    "rms_norm_eps": 1e-5,
    "tie_word_embeddings": True,
}
CHECKS = 400  # questions per check


def train_tokenizer(texts: list[str]) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        special_tokens=[PAD, END],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=END, pad_token=PAD, model_max_length=256)


def build_model(tokenizer: Any, seed: int) -> Any:
    from transformers import LlamaConfig, LlamaForCausalLM, set_seed

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
        **MODEL_CONFIG,
    )
    set_seed(seed)
    return LlamaForCausalLM(config)


def tokenized(tokenizer: Any, documents: list[str]) -> Any:
    from datasets import Dataset

    ids = tokenizer([d + END for d in documents], add_special_tokens=False)["input_ids"]
    return Dataset.from_dict({"input_ids": ids})


def pretraining_dataset(tokenizer: Any, documents: list[str]) -> Any:
    """Token ids and labels; a reading exercise's context is input only, so its loss is the question and answer.

    The context's invented names and values cannot be predicted; scoring them would drown the signal
    that teaches the model to look back into the context for the answer.
    """
    from datasets import Dataset

    rows: dict[str, list[list[int]]] = {"input_ids": [], "labels": []}
    for doc in documents:
        context, sep, rest = doc.partition("\nQuestion: ") if doc.startswith("Context: ") else ("", "", doc)
        prefix = context + "\n" if sep else ""
        shown = tokenizer(prefix, add_special_tokens=False)["input_ids"] if prefix else []
        scored = tokenizer(rest if not sep else "Question: " + rest, add_special_tokens=False)["input_ids"]
        scored = [*scored, tokenizer.eos_token_id]
        rows["input_ids"].append(shown + scored)
        rows["labels"].append([-100] * len(shown) + scored)
    return Dataset.from_dict(rows)


def pretrain(
    seed: int = SEED,
    steps: int = STEPS,
    out: Path = MODEL_DIR,
    log_every: int = 100,
    check_every: int = 0,
    bf16: bool = False,
    save_every: int = 0,
) -> dict[str, float]:
    """Train the base model, save it to `out`, and return its check accuracies."""
    import torch
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainerCallback, TrainingArguments

    corpus = PretrainCorpus(seed)
    documents = corpus.documents(steps * BATCH)
    tokenizer = train_tokenizer(documents)
    model = build_model(tokenizer, seed)
    args = TrainingArguments(
        output_dir=str(out / "_trainer"),
        max_steps=steps,
        per_device_train_batch_size=BATCH,
        learning_rate=LEARNING_RATE,
        lr_scheduler_type="cosine",
        warmup_steps=0.05,
        weight_decay=0.01,
        logging_steps=log_every,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        seed=seed,
        disable_tqdm=True,
        train_sampling_strategy="sequential",  # the corpus is in curriculum order
        bf16=bf16,
    )

    class Checks(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            step = state.global_step
            if check_every and step % check_every == 0:
                print({"step": step, **check(model, tokenizer, corpus, n=100)}, flush=True)
                model.train()
            if save_every and step % save_every == 0 and step < steps:
                # A snapshot part-way through the schedule (the same command reproduces it at that step).
                snapshot = copy.deepcopy(model).to(torch.float16)
                save(snapshot, tokenizer, out, {"seed": seed, "steps": steps, "saved_at_step": step, "bf16": bf16})

    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=pretraining_dataset(tokenizer, documents),
        data_collator=DataCollatorForSeq2Seq(tokenizer, padding=True),
        callbacks=[Checks()],
    )
    started = time.perf_counter()
    trainer.train()
    minutes = (time.perf_counter() - started) / 60
    checks = check(model, tokenizer, corpus)
    checks["train_minutes"] = round(minutes, 2)
    record = {"seed": seed, "steps": steps, "saved_at_step": steps, "bf16": bf16, **checks}
    save(model.to(torch.float16), tokenizer, out, record)
    return checks


def check(model: Any, tokenizer: Any, corpus: PretrainCorpus, n: int = CHECKS) -> dict[str, float]:
    """Multiple-choice accuracy (four candidates) on questions the model was not trained on."""
    sets = {
        "reading": corpus.reading_checks(n),
        "closed_book_asked": corpus.closed_book_checks(corpus.asked, n),
        "closed_book_unasked": corpus.closed_book_checks(corpus.unasked, n),
    }
    out = {}
    for name, rows in sets.items():
        questions = [Question(p, a, tuple(c)) for p, a, c in rows]
        out[name] = round(
            choice_accuracy(questions, score_questions(model, tokenizer, questions, greedy=False).logprobs), 4
        )
    return out


def save(model: Any, tokenizer: Any, out: Path, record: dict[str, Any]) -> None:
    from transformers import GenerationConfig

    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out), safe_serialization=True)
    tokenizer.save_pretrained(str(out))
    GenerationConfig(
        do_sample=False,
        max_new_tokens=8,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    ).save_pretrained(str(out))
    (out / "pretraining.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Pre-train the knowledge lab's base model on the synthetic corpus.")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--out", type=Path, default=MODEL_DIR)
    parser.add_argument("--check_every", type=int, default=0, help="print check accuracies every N steps")
    parser.add_argument("--save_every", type=int, default=0, help="also save the model every N steps")
    parser.add_argument(
        "--bf16", action="store_true", help="bfloat16 autocast (faster on CPUs with AMX or AVX512-BF16)"
    )
    args = parser.parse_args(argv)
    passive_openmp_wait()
    print(
        json.dumps(
            pretrain(
                args.seed,
                args.steps,
                args.out,
                check_every=args.check_every,
                bf16=args.bf16,
                save_every=args.save_every,
            )
        )
    )


if __name__ == "__main__":
    main()

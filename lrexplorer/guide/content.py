"""The Guide's lessons as data: ids, titles, search keywords and the teaching texts (Markdown).

Facts and formulas come from the training notes (../shared/seed/training-notes.md) and the papers
they cite; every sentence is ours. The views decide where the interactive parts go; this module
only holds words, so the search box and the tests can read every lesson without streamlit.
Formulas that the app computes (schedules) are not repeated here: they come from their catalogues.
"""

from __future__ import annotations

from lrexplorer.guide.content_tricks import TRICK_LESSONS
from lrexplorer.guide.lesson import Lesson, Topic

KNOWLEDGE = Lesson(
    id="knowledge",
    title="Knowledge injection",
    icon=":material/school:",
    summary="What fine-tuning can and cannot add to a model, and why facts need many phrasings.",
    concepts=("fine-tuning", "knowledge-injection"),
    keywords=("knowledge", "retrieval", "RAG", "fine-tuning", "new facts"),
    topics=(
        Topic(
            "retrieval",
            "Fine-tuning or retrieval?",
            """
A model can be given domain knowledge in two ways. **Retrieval** (RAG) leaves the weights alone and
pastes the relevant documents into the prompt when a question arrives. **Fine-tuning** changes the
weights, so the knowledge must be stored in the model itself.

Ovadia et al. (Microsoft; EMNLP 2024, *Fine-Tuning or Retrieval? Comparing Knowledge Injection in LLMs*,
arXiv:2312.05934) compared the two on knowledge-heavy questions. Retrieval came out ahead, both for
facts the model had met in pre-training and for facts that were new to it; plain continued training
on the documents helped less, and new facts were the hardest to teach this way.

Two things to keep apart when reading such results:

- **Old versus new knowledge.** Pre-training corpora cover so much of the web that even a niche
  domain was probably seen already. Fine-tuning on it often *reminds* the model and shifts it
  towards the domain more than it teaches something it never saw.
- **Knowing versus reasoning.** Questions that test knowledge alone are hard to write: a model that
  reasons well can eliminate wrong options of a multiple-choice question and guess right. Judge
  knowledge together with reasoning, reading comprehension and general language ability.
""",
            ("RAG", "retrieval augmented generation", "pre-training", "multiple choice", "reasoning", "Ovadia"),
        ),
        Topic(
            "kinds",
            "Three ways to fine-tune",
            """
| Kind | Data | What it mostly changes |
|---|---|---|
| **Supervised (SFT)** | labelled pairs: an input and the answer we want | how the model responds: format, style, following instructions |
| **Reinforcement learning** | preferences or rewards on the model's own answers (RLHF, DPO, PPO-style policy optimisation) | which of its possible answers the model prefers |
| **Unsupervised** (continued pre-training) | raw text, no labels; the model keeps predicting the next token | what the model has read: the closest of the three to adding knowledge |

**Instruction tuning**, the best-known form of SFT, describes a task in plain language and shows the
expected answer. It made models much better at tasks they were never trained on and at step-by-step
reasoning, but it is *not* a reliable way to add facts. RL methods work best on top of instruction
tuning and, like it, shape behaviour more than knowledge.

**Continued pre-training** is simply the original training resumed from a checkpoint on new text.
It needs a **smaller learning rate** than the original run: large updates overwrite what the model
already knew (*catastrophic forgetting*). The Schedules page shows how small the LR stays under each
schedule.
""",
            (
                "SFT",
                "supervised",
                "instruction tuning",
                "RLHF",
                "DPO",
                "PPO",
                "reinforcement learning",
                "unsupervised",
                "continued pre-training",
                "catastrophic forgetting",
                "next token",
            ),
        ),
        Topic(
            "paraphrases",
            "Say each fact many ways: paraphrases",
            """
In the same study, adding **paraphrases** of the training facts (the same content, reworded) raised
accuracy steadily: the more versions of each fact, the better every model did. Repetition alone is
not the point; *varied* repetition is. A model that saw one sentence a hundred times has learned
that sentence; a model that saw the fact phrased many ways is more likely to have learned the fact,
and to retrieve it when asked in words it never saw. Data augmentation by paraphrasing is a cheap
way to get there when the source material is small.
""",
            ("paraphrase", "data augmentation", "augmentation", "rewording", "repetition"),
        ),
        Topic(
            "epochs",
            "Why the training loss drops at each new epoch",
            """
Train for several epochs on a small dataset and the training loss falls in **steps**: a sharp drop
right after each epoch boundary, when the model meets examples it has seen before. That is
**memorisation**: the model recognises the exact token sequences. It makes the training loss look
better than what the model can do on new wording, and it is the first sign of overfitting.

What to do about it: watch a loss on examples the model never trains on (`eval_strategy`), prefer
more *different* examples (paraphrases) over more epochs of the same ones, and keep the number of
epochs small when the training loss falls far below the evaluation loss.
""",
            ("epoch", "memorization", "memorisation", "overfitting", "training loss", "eval loss", "staircase"),
        ),
        Topic(
            "try",
            "See both effects in a real run",
            """
The built-in **facts** dataset holds 24 invented facts (so no model can know them beforehand), each
asked in six phrasings: five are used for training, the sixth is held out for evaluation. The
evaluation loss therefore measures whether a fact learned from several wordings carries over to a
wording the model never saw. Train for several epochs and look for the steps in the training loss
at each epoch boundary; then train again on fewer phrasings per fact and compare the evaluation loss.
""",
            ("facts dataset", "held out", "lrexplorer train", "run"),
        ),
    ),
)

SCHEDULERS = Lesson(
    id="schedulers",
    title="Learning-rate schedulers",
    icon=":material/show_chart:",
    summary="The six schedules of the notes: formula, live curve, and a link that opens each on the Schedules page.",
    concepts=("scheduler", "warmup"),
    keywords=("scheduler", "learning rate", "lr_scheduler_type", "decay", "warmup", "annealing"),
    topics=(
        Topic(
            "why",
            "Why change the learning rate during training",
            """
Early in training the loss is far from its minimum, and large steps make fast progress. Later the
same large steps overshoot: the weights bounce around the minimum instead of settling into it. A
**schedule** starts with a high learning rate and lowers it as training goes on, which often reaches
a lower loss sooner and can generalise better.

In the transformers Trainer the schedule advances once per **optimizer update**, not once per epoch
(the notes count some periods in epochs). With gradient accumulation an update happens every
`gradient_accumulation_steps` micro-batches. The curves below are exactly what the Trainer applies,
update by update; the link under each opens the Schedules page with the same settings.
""",
            ("optimizer update", "overshoot", "converge", "per step", "per epoch"),
        ),
    ),
)

# How the notes write each of their six schedules, where the catalogue's formula (which counts
# optimizer updates, as the Trainer does) reads differently, and what the notes add about it.
NOTES_FORMS: dict[str, tuple[str, str]] = {  # name -> (the notes' formula or "", remark)
    "constant": ("", "The notes list it as the baseline to compare against rather than as a schedule."),
    "StepLR": (
        r"\eta_t = \eta_0\,\gamma^{\lfloor t / N \rfloor}",
        "In the notes t and N count epochs: decay by γ every N epochs.",
    ),
    "ExponentialLR": (r"\eta_t = \eta_0\, e^{-k t}", "In the notes k sets how fast the rate falls."),
    "CosineAnnealingLR": (
        r"\eta_t = \eta_{min} + \tfrac{1}{2}(\eta_{max} - \eta_{min})\left(1 + \cos\frac{t\pi}{T}\right)",
        (
            "In the notes T is the length of one cycle, which may be followed by a restart "
            "(torch's CosineAnnealingWarmRestarts)."
        ),
    ),
    "constant_with_warmup": (
        "",
        (
            "In transformers 5 a `warmup_steps` value below 1 is a fraction of all updates, "
            "which replaces the removed `warmup_ratio`."
        ),
    ),
    "OneCycleLR": (
        "",
        (
            "The notes describe it as warmup, a high phase for fast progress and a final steep decay, "
            "usually cosine-shaped, all within a single cycle over the run."
        ),
    ),
}

ACCUMULATION = Lesson(
    id="accumulation",
    title="Gradient accumulation",
    icon=":material/stacks:",
    summary="Simulate a large batch with small ones: the averaging formula, checked with torch.",
    concepts=("gradient-accumulation", "batch-size"),
    keywords=("gradient_accumulation_steps", "accumulate", "micro-batch", "effective batch", "batch size"),
    topics=(
        Topic(
            "idea",
            "A large batch in small pieces",
            """
Say a batch of **B** examples gives the gradient you want, but only **b** examples fit in memory.
Run **n = B / b** micro-batches one after the other, add up their gradients, and update the weights
once. Because each micro-batch's loss is its own average, the sum is divided by n:
""",
            ("memory", "large batch", "B / b"),
            latex=r"n = \frac{B}{b}, \qquad \nabla_\theta L_B = \frac{1}{n} \sum_{i=1}^{n} \nabla_\theta L_{b,i}",
        ),
        Topic(
            "trainer",
            "What the Trainer does with it",
            """
- **Effective batch** = `per_device_train_batch_size` × `gradient_accumulation_steps` × number of
  devices. That is the batch the optimizer sees, and the one the learning rate should be tuned for.
- **Memory**: activations are held for one micro-batch at a time, so the peak is that of batch b.
  The weights, gradients and optimizer state do not shrink.
- **Time**: the same number of forward and backward passes per epoch, but n times fewer optimizer
  updates. The schedule counts updates, so with accumulation there are fewer of them per epoch.
- **Language models** do not average over examples but over tokens, and micro-batches hold
  different numbers of tokens. Averaging each micro-batch's mean would weight a short micro-batch
  as much as a long one; transformers instead divides every micro-batch's summed loss by the token
  count of the whole accumulated batch, which gives exactly the large-batch gradient. The
  demonstration below shows both ways.
""",
            (
                "effective batch size",
                "tokens",
                "num_items_in_batch",
                "optimizer updates",
                "per_device_train_batch_size",
            ),
        ),
    ),
)

LESSONS: tuple[Lesson, ...] = (KNOWLEDGE, SCHEDULERS, ACCUMULATION, *TRICK_LESSONS)
_BY_ID = {lesson.id: lesson for lesson in LESSONS}


def lesson_by_id(lesson_id: str | None) -> Lesson | None:
    return _BY_ID.get(lesson_id or "")

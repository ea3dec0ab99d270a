"""Lessons on the notes' training tricks (weight decay, clipping, checkpointing, flash attention) and
the reference lessons (every argument, the corrected example). Data only; see `content`.
"""

from __future__ import annotations

from lrexplorer.guide.lesson import Lesson, Topic

WEIGHT_DECAY = Lesson(
    id="weight-decay",
    title="Weight decay",
    icon=":material/compress:",
    summary="Pull the weights towards zero: the penalised loss, AdamW's decoupled decay, what is excluded.",
    concepts=("weight-decay",),
    keywords=("weight_decay", "L2", "regularisation", "regularization", "AdamW", "decoupled"),
    topics=(
        Topic(
            "penalty",
            "A penalty on large weights",
            """
Weight decay discourages large weights, which tend to go with fitting the training set's noise. In
its classic form it adds the squared size of every weight to the loss, scaled by a coefficient λ:
""",
            ("penalty", "overfitting", "lambda", "L2 regularization"),
            latex=r"L' = L + \frac{\lambda}{2} \sum_i \theta_i^2 \qquad\Rightarrow\qquad \nabla_\theta L' = \nabla_\theta L + \lambda\,\theta",
        ),
        Topic(
            "adamw",
            "Why AdamW decays differently",
            """
With plain SGD the penalty's gradient λθ simply shrinks every weight by the factor (1 − ηλ) at each
update, so *adding the penalty* and *shrinking the weights* are the same thing.

Adam breaks that equivalence. It divides each gradient component by a running estimate of its size
(√v̂). A penalty added to the gradient is divided too, so weights that receive large gradients are
barely regularised and the effective decay depends on the gradient's scale. **AdamW** (Loshchilov
and Hutter, *Decoupled Weight Decay Regularization*) takes the decay out of the gradient and applies
it directly to the weights, next to the Adam step:
""",
            ("Adam", "Loshchilov", "Hutter", "decoupled weight decay", "adaptive"),
            latex=r"\theta_{t} = \theta_{t-1} - \eta\,\lambda\,\theta_{t-1} - \eta\,\frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}",
        ),
        Topic(
            "excluded",
            "Which parameters are not decayed",
            """
The transformers Trainer splits the parameters into two optimizer groups and gives `weight_decay`
only to the first. The second group, decayed by 0, holds the **biases** and the **normalisation
weights** (LayerNorm, RMSNorm): they set offsets and scales rather than store patterns, and pulling
them to zero would only hurt. Embeddings and the output head *are* decayed. The rule, from
`Trainer.get_decay_parameter_names`: every parameter inside an `nn.LayerNorm`, and every parameter
whose name contains `bias`, `layernorm`, `rmsnorm`, a `norm` path component or a `_norm` suffix.
""",
            ("bias", "LayerNorm", "RMSNorm", "norm", "get_decay_parameter_names", "embedding", "excluded"),
        ),
        Topic(
            "values",
            "Typical values",
            """
- The notes: values from **1e-4 to 1e-2** are common; **1e-4** is a frequent default for image CNNs;
  for large language models they suggest smaller values such as **1e-5** or **1e-6**, because too
  much regularisation keeps a model from fitting very large datasets.
- With AdamW's decoupled decay each update shrinks a weight by the fraction *learning rate × λ*, so
  the same λ is gentle at fine-tuning learning rates. Llama 2 (arXiv:2307.09288, among the notes'
  sources) used **0.1** with AdamW for pre-training and for supervised fine-tuning at a learning rate
  of 2e-5: a shrink of 2e-6 per update.
- The Trainer's default is **0**: no decay at all unless you set it. For short fine-tunes 0 to 0.1
  is the usual range; raise it when the evaluation loss turns up while the training loss keeps falling.
""",
            ("1e-4", "1e-2", "typical values", "default 0", "Llama 2"),
        ),
    ),
)

GRAD_NORM = Lesson(
    id="grad-norm",
    title="Max gradient norm (clipping)",
    icon=":material/content_cut:",
    summary="Cap the length of the gradient so one bad batch cannot throw the weights off.",
    concepts=("max-grad-norm",),
    keywords=("max_grad_norm", "gradient clipping", "clip", "exploding gradients", "grad_norm"),
    topics=(
        Topic(
            "rule",
            "Shorten the gradient, keep its direction",
            """
Now and then a batch produces a huge gradient (an *exploding gradient*), and a single update along
it can undo hours of training. **Gradient clipping** caps the gradient's length: when its norm
‖g‖ exceeds a threshold τ (`max_grad_norm`), the whole vector is scaled down to length τ. Its
direction does not change, only how far the update goes.
""",
            ("exploding gradients", "threshold", "tau", "norm", "direction", "instability"),
            latex=r"g' = \begin{cases} \dfrac{\tau}{\lVert g \rVert}\, g & \text{if } \lVert g \rVert > \tau \\ g & \text{otherwise} \end{cases}",
        ),
        Topic(
            "trainer",
            "In the Trainer",
            """
- The norm is taken over **all** gradients at once, as if every parameter's gradient were one long
  vector (`torch.nn.utils.clip_grad_norm_`), after accumulation and before the optimizer step.
- torch scales by τ / (‖g‖ + 1e-6), and only when that factor is below 1.
- The `grad_norm` the Trainer logs is the norm **before** clipping. If it sits above
  `max_grad_norm` on most updates, clipping is acting all the time, which works like a smaller
  learning rate.
- `max_grad_norm=0` turns clipping off.
""",
            ("clip_grad_norm_", "global norm", "logged grad_norm", "1e-6"),
        ),
        Topic(
            "values",
            "Typical values",
            """
- **1.0** is the usual starting point and the Trainer's default; it is especially common for language
  models, whose long sequences can produce large gradients.
- A looser bound such as **5.0** or **10.0** lets larger updates through while still stopping the
  extreme ones; the notes suggest it for very deep models or runs that keep being unstable.
- The notes' own example sets **0.3**, a tight cap often seen in LoRA/QLoRA recipes.
""",
            ("1.0", "5.0", "10.0", "0.3", "typical values"),
        ),
    ),
)

CHECKPOINTING = Lesson(
    id="checkpointing",
    title="Gradient checkpointing",
    icon=":material/save:",
    summary="Keep fewer activations and recompute the rest: less memory, more compute.",
    concepts=("gradient-checkpointing",),
    keywords=("gradient_checkpointing", "activation_checkpointing", "activations", "recompute", "memory"),
    topics=(
        Topic(
            "trade",
            "Memory for compute",
            """
The backward pass needs the intermediate results (*activations*) of the forward pass. Normally every
layer keeps all of them until its backward step, and for long sequences or large batches they are
the largest part of the memory. **Gradient checkpointing** keeps only each layer's input, drops
everything else, and recomputes the layer's forward pass when the backward pass reaches it.

- **Saves**: most activation memory, which allows longer sequences, larger batches or larger models.
- **Costs**: roughly one extra forward pass per step; transformers quotes about 20% slower training,
  and 20 to 35% is common.
- **Does not change** the result: the recomputed values are the same, so the gradients are too.
""",
            ("activations", "recompute", "slower", "backward pass", "longer sequences"),
        ),
        Topic(
            "args",
            "Turning it on",
            """
In transformers 5 the argument is `activation_checkpointing=True`; `gradient_checkpointing` (the
notes' name) still works as a deprecated alias that transformers will remove in version 6, and the
same holds for `gradient_checkpointing_kwargs` → `activation_checkpointing_kwargs`. Pass
`{"use_reentrant": False}` there: PyTorch recommends the non-reentrant implementation, and the notes'
example sets it too.
""",
            ("use_reentrant", "activation_checkpointing_kwargs", "gradient_checkpointing_kwargs", "deprecated"),
        ),
    ),
)

FLASH = Lesson(
    id="flash-attention",
    title="Flash attention",
    icon=":material/bolt:",
    summary="Exact attention without the sequence × sequence matrix in memory.",
    concepts=("flash-attention",),
    keywords=("flash attention", "attn_implementation", "sdpa", "eager", "attention", "quadratic"),
    topics=(
        Topic(
            "attention",
            "Self-attention and its square",
            """
Self-attention lets every token weigh every other token. Each token gets a query (Q), a key (K) and
a value (V) vector; a token's output is the values averaged with weights given by how well its query
matches each key, where d_k is the key dimension:
""",
            ("query", "key", "value", "softmax", "d_k", "self-attention"),
            latex=r"\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\left(\frac{Q K^{\top}}{\sqrt{d_k}}\right) V",
        ),
        Topic(
            "cost",
            "Where memory goes",
            """
The product QKᵀ has one entry per pair of tokens: a sequence of s tokens gives an s × s matrix per
head, and the plain (*eager*) implementation stores it, and its softmax, for the backward pass. Its
memory grows with the **square** of the sequence length, which is what limits long inputs.
""",
            ("quadratic", "sequence length", "s x s", "eager", "memory"),
        ),
        Topic(
            "flash",
            "What flash attention changes",
            """
FlashAttention (Dao et al., 2022) computes the **same result** (it is exact, not an approximation)
in tiles. It loads blocks of Q, K and V into the GPU's small on-chip memory, updates the softmax
block by block, and never writes the s × s matrix to the GPU's main memory. In the backward pass it
recomputes those blocks instead of reading them back.

- **Memory** grows linearly with the sequence length instead of quadratically.
- **Speed** improves because far less data moves to and from main memory, even though the number
  of multiplications stays quadratic (the recomputation even adds some).
- Later versions split the work better across the GPU's cores (parallelism).

In transformers it is chosen when the model is loaded, with `attn_implementation`: `eager`,
`sdpa` (PyTorch's scaled-dot-product attention, which uses a flash or memory-efficient kernel when
it can) or `flash_attention_2` (the flash-attn package: an NVIDIA GPU of the Ampere generation or
newer, and fp16/bf16).
""",
            ("tiling", "SRAM", "exact", "flash_attention_2", "sdpa", "Ampere", "flash-attn", "Dao"),
        ),
    ),
)

ARGUMENTS = Lesson(
    id="arguments",
    title="Every training argument",
    icon=":material/tune:",
    summary="Each TrainingArguments field the notes explain, under its current name, from the parameter catalogue.",
    concepts=(
        "optimizer",
        "mixed-precision",
        "training-length",
        "batch-size",
        "logging-saving",
        "evaluation",
        "speed",
        "tracking",
    ),
    keywords=("TrainingArguments", "SFTConfig", "arguments", "renamed", "deprecated", "defaults"),
    topics=(
        Topic(
            "intro",
            "The notes' arguments today",
            """
The notes describe the arguments of an older transformers release. Several have since been renamed
or removed. The table lists every argument the notes explain, with the name and form to use with
the installed transformers; below it, every field lrexplorer knows, by group. Both come from the
parameter catalogue that also drives the Train form, the CLI flags and the exports.
""",
            ("warmup_ratio", "evaluation_strategy", "group_by_length", "save_safetensors", "renamed", "removed"),
        ),
    ),
)

EXAMPLE = Lesson(
    id="example",
    title="The notes' example, corrected",
    icon=":material/code:",
    summary="The notes' TrainingArguments example, fixed and generated from the catalogue so it runs.",
    concepts=(),
    keywords=("TrainingArguments example", "syntax error", "corrected", "code"),
    topics=(
        Topic(
            "intro",
            "From the notes to code that runs",
            """
The notes close with a `TrainingArguments(...)` call. As written it cannot run: a comma is missing
after `run_name=...`, `output_model` is never defined, and some names are gone from transformers 5.
The version below keeps every setting of the notes and is generated from the parameter catalogue:
renamed fields take their current names, removed ones are dropped with a comment, and every value
is checked against the catalogue's rules.
""",
            ("syntax error", "missing comma", "output_model", "run_name"),
        ),
    ),
)
TRICK_LESSONS: tuple[Lesson, ...] = (WEIGHT_DECAY, GRAD_NORM, CHECKPOINTING, FLASH, ARGUMENTS, EXAMPLE)

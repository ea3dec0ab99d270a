"""The knowledge-injection lab: does a model learn new facts better from fine-tuning or from retrieval?

- `world`: the invented people and phrasings; `corpus`: the pre-training documents and the fact set;
  `prompts`: the text formats shared by pre-training and questions; `pretrain`: the base model's training.
- `assets`: the shipped model and facts; `facts`: loading and checking a fact file.
- `retrieve`: BM25; `score`: log-probability and greedy scoring; `finetune`: continued training.
- `lab`: the experiment; `results`: accuracy per method and seed; `progress`: progress and ETA.
- `lab_folder`: a lab as a folder the page starts and follows; `cpu`: OpenMP threads on a shared CPU.

Nothing here imports torch at import time.
"""

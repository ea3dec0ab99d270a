"""The knowledge-injection lab: does a model learn new facts better from fine-tuning or from retrieval?

Modules: `world` (the invented people and phrasings), `corpus` (pre-training documents and the lab's
fact set), `pretrain` (the base model's training script), `facts` (fact-file loading), `retrieve`
(BM25), `score` (log-probability and greedy scoring), `finetune` (continued training with the
Trainer), `lab` (the experiment), `results`, `progress`. Nothing here imports torch at import time.
"""

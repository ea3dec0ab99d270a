"""lrexplorer: see and check the hyperparameters of language-model fine-tuning."""

__version__ = "0.1.0"

"""gridwait: run fine-tuning jobs when the electricity grid is cleanest."""

__version__ = "0.1.0"

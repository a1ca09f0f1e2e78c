"""LoRA training from a folder of a brand's own images: dataset, trainer, checkpoints, export, report.

An inner room beside engines/: it loads its base model through the engines' own loader and knows
nothing of jobs, wires or front doors. Importing this package imports no torch (recipe and dataset
do not need it), so the front doors can check a request before a training is queued.
"""

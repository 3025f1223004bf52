"""Training: recipes (TOML), what they build, resumable runs, the paper's tables, exported presets.

- `recipes`: read, check and write recipe files (no Keras import);
- `pipeline`: a recipe's data, model (built and compiled) and batches;
- `resumable`: checkpoint every chunk of steps and continue after a stop;
- `run`: `train(recipe, run_dir)`, what `keras-v2v train` runs;
- `export`: a trained recipe -> a preset folder with its measured card;
- `reproduce`: the paper's four methods per table, trained and scored;
- `zoo`: the registry entries of the zoo's folders (`python zoo/sync_registry.py`).
"""

"""Held-out per-frame quality and motion-aware temporal metrics of models, beside trivial baselines.

    python -m keras_v2v.training.motion_table --task mnist-colorize --seed 777 \\
        mnist-colorize-2d-random mnist-colorize-3d runs/motion/colorize-B/preset

The hand-drawn clips through the demo: `python -m keras_v2v.demo.handmade docs/results/motion`.

Clips come from the task's recipe with a dataset seed no preset was trained
on. Each row: the task's per-frame metrics, warping error (flow on the input),
the same without warping, tOF against the truth, and motion correlation /
ratio; 95% bootstrap intervals over clips for the headline and the warping
error. Baselines: the ground truth (the floor), copying the input, the truth's
first frame frozen, and for video -> segmentation each pixel's most common
training class.
"""

import argparse
import json
import os

import numpy as np

from keras_v2v import evaluation
from keras_v2v.evaluation import baselines, motion
from keras_v2v.training import pipeline, recipes

TASK_RECIPES = {"mnist-colorize": "mnist-colorize-3d", "street-seg2rgb": "street-seg2rgb-3d",
                "vmnist-sph2sand": "vmnist-sph2sand-3d"}
ZOO = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "zoo")


def heldout(task, seed, videos=None):
    """(recipe, recipe data) with the task's dataset generated from `seed`."""
    recipe = recipes.load_recipe(os.path.join(ZOO, TASK_RECIPES[task], "recipe.toml"))
    recipe = recipe.replace(dataset={"seed": int(seed)})
    recipe_data = pipeline.load_data(recipe)
    if videos:
        recipe_data.test = evaluation.scoring._take(recipe_data.test, videos)
    return recipe, recipe_data


def bootstrap(values, samples=2000, seed=0):
    values = np.asarray(values, np.float64)
    values = values[~np.isnan(values)]
    if values.size < 2:
        return [float("nan")] * 2
    rng = np.random.default_rng(seed)
    means = rng.choice(values, (samples, values.size)).mean(axis=1)
    return [float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))]


def score_row(generator, predictions, test):
    spec = evaluation.task_metric(generator)
    inputs = test.a if spec.direction == "a2b" else test.b
    row = evaluation.score(generator, predictions, test)
    per_clip = [evaluation.score(generator, p[None], evaluation.scoring._take_one(test, i), motion=False)[spec.headline]
                for i, p in enumerate(predictions)]
    row[spec.headline + "_ci95"] = bootstrap(per_clip)
    row["warping_error_ci95"] = bootstrap(motion.warping_error(predictions, inputs, reduce=False))
    return row


def rows(task, models, seed, videos=None):
    import keras_v2v as v2v

    recipe, recipe_data = heldout(task, seed, videos)
    generator = recipe.dataset["generator"]
    test = recipe_data.test
    spec = evaluation.task_metric(generator)
    inputs, truth = (test.a, test.b) if spec.direction == "a2b" else (test.b, test.a)
    out = {"truth (floor)": score_row(generator, truth, test)}
    out["copy input"] = score_row(generator, baselines.copy_input(inputs, truth.shape[-1]), test)
    out["frozen truth frame"] = score_row(generator, baselines.frozen_first_frame(truth), test)
    if generator == "synthetic_street":
        from keras_v2v.data import street

        prior = baselines.class_prior(recipe_data.train_a, street.CLASS_COLOURS)
        out["per-pixel class prior"] = score_row(
            generator, baselines.class_prior_videos(prior, street.CLASS_COLOURS, *truth.shape[:2]), test)
    for name in models:
        model = v2v.from_pretrained(name, discriminators=False)
        predictions = evaluation.translate_all(model, inputs, spec.direction)
        out[name] = score_row(generator, predictions, test)
        out[name]["generator_parameters"] = model.generator_a2b.count_params()
    return {"task": task, "seed": seed, "videos": len(test), "headline": spec.headline, "rows": out,
            "machine": evaluation.machine_description()}


def markdown(table):
    head = table["headline"]
    cols = [head, "warping_error", "unwarped_error", "tof", "motion_corr", "motion_ratio"]
    lines = [f"| model ({table['task']}, seed {table['seed']}, {table['videos']} clips) | "
             + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for name, row in table["rows"].items():
        cells = []
        for c in cols:
            value = f"{row.get(c, float('nan')):.3f}"
            if c + "_ci95" in row:
                lo, hi = row[c + "_ci95"]
                value += f" ({lo:.3f}-{hi:.3f})"
            cells.append(value)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help="preset names or folders")
    parser.add_argument("--task", required=True, choices=sorted(TASK_RECIPES))
    parser.add_argument("--seed", type=int, default=777)
    parser.add_argument("--videos", type=int, default=None, help="score only the first N held-out clips")
    parser.add_argument("--json", help="also write the table as JSON here")
    args = parser.parse_args(argv)
    table = rows(args.task, args.models, args.seed, args.videos)
    print(markdown(table))
    if args.json:
        from keras_v2v.utils.files import write_json

        write_json(args.json, table, default=float)


if __name__ == "__main__":
    main()

"""`keras-v2v ablate table1`: one change at a time to a table's 3D recipe, trained and scored the same way.

Each variant is the budget's 3D recipe (`reproduce.recipe_for`) with a few
values changed, trained on the same data for the same number of steps (unless
the variant is about steps) and scored on the same held-out split as the
table. The 2D "random" baseline is trained beside it as the reference, and
seed repeats of both show how much of a difference is noise. Runs resume
like every training here; finished variants are read back, not retrained.
The report goes to `docs/results/ablations_<table>_<budget>.md` and `.json`.
"""

import json
import os

from keras_v2v import evaluation
from keras_v2v.training import pipeline, reproduce, run
from keras_v2v.training.resumable import read_progress
from keras_v2v.utils import files

WIDE = {"filters": 16, "discriminator_filters": 16}
# The bundled 2D-random preset each table's inflated variants start from (its medium-budget sibling).
SIBLING = "<the table's 2d-random preset>"
SIBLINGS = {"table1": "mnist-colorize-2d-random", "table2": "vmnist-sph2sand-2d-random",
            "table4": "street-seg2rgb-2d-random"}
INFLATED = {"init_from": SIBLING, "clip_length": 8}

# name: (method, {section: {key: value}}, what it tests)
VARIANTS = {
    "3D base": ("3d", {}, "the budget's 3D recipe"),
    "3D base, seed 1": ("3d", {"training": {"seed": 1}}, "seed noise of the 3D model"),
    "2D random": ("2d-random", {}, "the framewise reference"),
    "2D random, seed 1": ("2d-random", {"training": {"seed": 1}}, "seed noise of the reference"),
    # The parameter ratio depends on the budget's base width; the report computes it (G params column).
    "width 16": ("3d", {"model": WIDE}, "width (generator and discriminator 16 filters wide)"),
    "width 16, equal time": ("3d", {"model": WIDE, "training": {"steps": 500}},
                             "width at the base's wall-clock (a third of the steps)"),
    "6 residual blocks": ("3d", {"model": {"num_blocks": 6}}, "depth"),
    "discriminator width 16": ("3d", {"model": {"discriminator_filters": 16}}, "a stronger critic"),
    "D temporal kernel 1": ("3d", {"model": {"discriminator_temporal_kernel": 1}},
                            "a critic that sees one frame per logit"),
    "D temporal kernel 5": ("3d", {"model": {"discriminator_temporal_kernel": 5}},
                            "a critic that sees more frames per logit"),
    "temporal stride": ("3d", {"model": {"temporal_stride": True}}, "time halved at each down-step (authors' code)"),
    "per-frame instance norm": ("3d", {"model": {"norm": "frame"}}, "statistics per frame, not per clip"),
    "clips of 16": ("3d", {"model": {"clip_length": 16}}, "the whole held-out clip in one window"),
    "3x3x3 stem and head": ("3d", {"model": {"stem_kernel_size": 3}}, "the paper's wording instead of 7x7x7"),
    "transposed up-convs": ("3d", {"model": {"upsampling": "transpose"}}, "the reference's up-sampling"),
    "lr 1e-4": ("3d", {"training": {"learning_rate": 1e-4}}, "the authors' learning rate"),
    "lr decay": ("3d", {"training": {"lr_decay": True}}, "constant, then linear to zero over the second half"),
    "vanilla GAN loss": ("3d", {"training": {"gan_loss": "vanilla"}}, "the paper's log-likelihood loss"),
    "no identity loss": ("3d", {"training": {"lambda_identity": 0.0}}, "the authors' code has none"),
    "temporal penalty 1": ("3d", {"training": {"lambda_temporal": 1.0}}, "eq. 2's penalty on the 3D output"),
    "temporal penalty 3": ("3d", {"training": {"lambda_temporal": 3.0}}, "a stronger penalty"),
    "width 16, D kernel 1, penalty 1": ("3d", {"model": {**WIDE, "discriminator_temporal_kernel": 1},
                                               "training": {"lambda_temporal": 1.0}}, "the three best changes"),
    "width 16, penalty 1, lr decay": ("3d", {"model": WIDE, "training": {"lambda_temporal": 1.0, "lr_decay": True}},
                                      "width, penalty and schedule"),
    # Started from the trained 2D sibling (keras_v2v.inflate: framewise-equal before training), 300 steps.
    "inflated 2D sibling": ("3d", {"model": INFLATED, "training": {"steps": 300, "chunk": 50, "lambda_temporal": 0.0}},
                            "3D generators and critics inflated from the 2D-random preset, then trained as 3D"),
    "inflated, warp loss 10": ("3d", {"model": INFLATED, "training": {"steps": 300, "chunk": 50, "lambda_temporal": 0.0,
                                                                      "lambda_warp": 10.0}},
                               "plus the warping loss along the input's optical flow"),
    "inflated, warp loss 10, seed 1": ("3d", {"model": INFLATED, "training": {
        "steps": 300, "chunk": 50, "lambda_temporal": 0.0, "lambda_warp": 10.0, "seed": 1}}, "seed noise of the above"),
}


def variant_recipe(table, budget, name):
    method, changes, _ = VARIANTS[name]
    recipe = reproduce.recipe_for(table, budget, method)
    if method != "3d" and "model" in changes:
        raise ValueError(f"ablation {name!r} changes the model of a 2D baseline")
    if changes.get("model", {}).get("init_from") == SIBLING:
        changes = {**changes, "model": {**changes["model"], "init_from": SIBLINGS[table]}}
    return recipe.replace(**changes) if changes else recipe


def _folder(name):
    return "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")


def run_variant(table, budget, name, runs_dir, recipe_data, verbose=0):
    """Trains (or resumes, or reads back) one variant; returns its row."""
    recipe = variant_recipe(table, budget, name)
    run_dir = os.path.join(runs_dir, f"{table}-{budget}", _folder(name))
    scored = os.path.join(run_dir, "metrics.json")
    if os.path.exists(scored) and read_progress(run_dir)["steps_done"] >= recipe.training["steps"]:
        with open(scored) as handle:
            return json.load(handle)
    model, progress, _ = run.train(recipe, run_dir, verbose=verbose, tensorboard=False, recipe_data=recipe_data)
    result = evaluation.evaluate(model, recipe.dataset["generator"], recipe_data.test)
    row = {"variant": name, "method": recipe.method, "what": VARIANTS[name][2], "steps": progress["steps_done"],
           "train_minutes": round(progress.get("train_seconds", 0.0) / 60, 1),
           "generator_parameters": model.generator_a2b.count_params(), "metrics": result["metrics"]}
    files.write_json(scored, row)
    return row


MOTION = ["warping_error", "motion_corr", "tof"]
COLUMNS = {
    "table1": ["shape_l2", "colour_sigma_across_clip", "colour_drift", "intensity_mean", *MOTION],
    "table2": ["L", "sigma", *MOTION],
    "table4": ["pixel_accuracy_denoise0", "transition_l2_denoise0", *MOTION],
}


def write_report(table, budget, rows, out_dir):
    columns = COLUMNS[table]
    lines = [f"# Ablations of the 3D model, {table} ({budget} budget)", "",
             f"{evaluation.machine_description()}. Reproduce: `keras-v2v ablate {table} --budget {budget}`.",
             "Each row changes the budget's 3D recipe in one way (or as said) and trains on the same data; all "
             "rows are scored on the same held-out clips.", "",
             "| variant | what it tests | G params | steps | train min | " + " | ".join(columns) + " |",
             "|---|---|---:|---:|---:|" + "---:|" * len(columns)]
    base = next((r["generator_parameters"] for r in rows if r["variant"] == "3D base"), None)
    for row in rows:
        values = [f"{row['metrics'].get(c, float('nan')):.3f}" for c in columns]
        params = f"{row['generator_parameters']:,}"
        if base and row["method"] == "3d" and row["generator_parameters"] != base:
            params += f" ({row['generator_parameters'] / base:.1f}x the 3D base)"  # measured, never assumed
        lines.append(f"| {row['variant']} | {VARIANTS.get(row['variant'], (0, 0, row['what']))[2]} | {params} | "
                     f"{row['steps']} "
                     f"| {row['train_minutes']} | " + " | ".join(values) + " |")
    stem = os.path.join(out_dir, f"ablations_{table}_{budget}")
    files.write_text(stem + ".md", "\n".join(lines) + "\n")
    files.write_json(stem + ".json", {"table": table, "budget": budget, "rows": rows})
    return stem + ".md"


def ablate(table, budget="quick", variants=None, runs_dir="runs/ablations", out_dir="docs/results", verbose=1):
    names = list(variants or VARIANTS)
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown ablation(s) {unknown}; known: {', '.join(VARIANTS)}")
    recipe_data = pipeline.load_data(reproduce.recipe_for(table, budget, "3d"))
    rows = []
    for name in names:
        if verbose:
            print(f"[ablate {table}/{budget}] {name}", flush=True)
        rows.append(run_variant(table, budget, name, runs_dir, recipe_data))
        write_report(table, budget, rows, out_dir)  # after every variant: a long run reports as it goes
    return rows

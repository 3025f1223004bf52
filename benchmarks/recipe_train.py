"""A zoo recipe trained the way `keras-v2v train` trains it, timed step by step.

    python benchmarks/recipe_train.py zoo/mnist-colorize-3d/recipe.toml zoo/mnist-colorize-2d-random/recipe.toml
    python benchmarks/recipe_train.py RECIPE --steps 100 --chunk 50 --rounds 2 --tree /path/to/old/checkout
    python benchmarks/recipe_train.py RECIPE --variant training.conv_precision=float32 --variant training.conv_precision=bfloat16

Each run is its own process calling `keras_v2v.training.run.train` (data generation,
batching with flows, the step, history pools, TensorBoard, checkpoints every chunk) in a
fresh run folder; a callback stamps the end of every step. Reported per run: start-up
(imports, data, model), the first step (tracing), the median step time within chunks (min-max),
the checkpoint gap (the step gap that holds a chunk's checkpoint) and steps/s over the whole
training call. `--tree` runs the same recipes with another checkout's `keras_v2v` (a "before"),
interleaved round by round with this one; a recipe inside this checkout is read from the same
path in that one (each tree trains its own version of the recipe). Each `--variant` (a
`keras-v2v train --set` override, several joined by commas) is a further row of this tree. The parent samples the 1-minute load average.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MARKER = "@@RECIPE_TRAIN@@ "
sys.path.insert(0, HERE)
from train_step import LoadSampler  # noqa: E402  (the same load sampling as the step race)


def worker(args):
    started = time.perf_counter()
    import keras
    import numpy as np

    from keras_v2v.training import recipes, resumable, run

    recipe = recipes.load_recipe(args.recipe)
    if args.variant:
        from keras_v2v.cli import _parse_overrides

        recipe = recipe.replace(**_parse_overrides(args.variant.split(",")))
    recipe.training.update(steps=args.steps, chunk=args.chunk)
    ends, fit_began = [], []

    class StepClock(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            fit_began.append(time.perf_counter())

        def on_train_batch_end(self, batch, logs=None):
            ends.append(time.perf_counter())

    # How long each chunk's checkpoint callback takes (save, fsync, progress record), to tell a slow
    # checkpoint from a stall elsewhere at the chunk boundary.
    checkpoint_ms, save_checkpoint = [], resumable.ChunkCheckpoint.on_epoch_end

    def timed_checkpoint(self, *a, **k):
        began = time.perf_counter()
        save_checkpoint(self, *a, **k)
        checkpoint_ms.append(1e3 * (time.perf_counter() - began))

    resumable.ChunkCheckpoint.on_epoch_end = timed_checkpoint
    plain = resumable.train_resumable

    def clocked(*a, callbacks=(), **k):
        return plain(*a, callbacks=[StepClock(), *callbacks], **k)

    run.train_resumable = clocked
    with tempfile.TemporaryDirectory() as run_dir:
        begun = time.perf_counter()
        run.train(recipe, run_dir, verbose=0)
        finished = time.perf_counter()
    gaps = np.diff(ends)
    boundaries = np.arange(args.chunk - 1, len(gaps), args.chunk)
    within = np.delete(gaps, boundaries)
    return dict(
        recipe=args.recipe, tree=os.environ.get("RECIPE_TRAIN_TREE", ROOT),
        start_up_s=begun - started, setup_s=fit_began[0] - begun, first_step_s=ends[0] - fit_began[0],
        step_ms=dict(median=1e3 * float(np.median(within)), min=1e3 * float(within.min()),
                     max=1e3 * float(within.max())),
        checkpoint_gap_ms=[1e3 * float(gaps[i]) for i in boundaries], checkpoint_ms=checkpoint_ms,
        steps_per_s=len(ends) / (finished - begun), train_call_s=finished - begun,
        after_last_step_s=finished - ends[-1],  # the last checkpoint and `fit`'s own teardown
        steps=len(ends), backend=keras.backend.backend(), threads=threads_in_use(),
    )


def threads_in_use():
    """TensorFlow's [threads per op, ops at once] after the run (0 = its default), to show a variant took."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    return [tf.config.threading.get_intra_op_parallelism_threads(), tf.config.threading.get_inter_op_parallelism_threads()]


def tree_recipe(recipe, tree):
    """The same recipe file as `tree` has it (a recipe outside this checkout is shared)."""
    relative = os.path.relpath(recipe, ROOT)
    if tree == ROOT or relative.startswith(os.pardir):
        return recipe
    return os.path.join(tree, relative)


def run_one(recipe, tree, args, variant=None):
    recipe = tree_recipe(recipe, tree)
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", RECIPE_TRAIN_TREE=tree,
               PYTHONPATH=os.pathsep.join([tree] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    command = [sys.executable, os.path.abspath(__file__), recipe, "--worker", "--steps", str(args.steps),
               "--chunk", str(args.chunk)] + (["--variant", variant] if variant else [])
    sampler = LoadSampler()
    sampler.start()
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    load = sampler.stop()
    lines = [line for line in done.stdout.splitlines() if line.startswith(MARKER)]
    if done.returncode or not lines:
        raise SystemExit(f"{recipe} ({tree}) failed:\n{done.stderr[-3000:]}")
    result = json.loads(lines[-1][len(MARKER):])
    result.update(load=load, variant=variant)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("recipes", nargs="+")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--chunk", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--tree", help="another checkout to time against (its keras_v2v), e.g. a worktree of main")
    parser.add_argument("--json", help="write every run's result here")
    parser.add_argument("--variant", action="append", default=[], metavar="SECTION.KEY=VALUE[,...]",
                        help="a row of this tree with recipe overrides (repeatable; the plain recipe is a row "
                             "only without --variant)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.steps < 2 * args.chunk:
        parser.error("--steps must cover at least two chunks (the second shows the steady state after a checkpoint)")
    if args.worker:
        print(MARKER + json.dumps(worker(argparse.Namespace(recipe=args.recipes[0], steps=args.steps, chunk=args.chunk,
                                                            variant=args.variant[0] if args.variant else None))),
              flush=True)
        return
    rows = [(ROOT, variant) for variant in args.variant or [None]]
    rows += [(os.path.abspath(args.tree), None)] if args.tree else []
    results = []
    for round_index in range(args.rounds):
        for recipe in args.recipes:
            for tree, variant in rows:
                result = dict(run_one(os.path.abspath(recipe), tree, args, variant), round=round_index)
                results.append(result)
                step = result["step_ms"]
                where = ("this tree" if tree == ROOT else tree) + (f", {variant}" if variant else "")
                print(f"{os.path.relpath(recipe, ROOT)} [{where}] round {round_index}: "
                      f"start-up {result['start_up_s']:.1f} s, data and model {result['setup_s']:.1f} s, first step {result['first_step_s']:.1f} s, "
                      f"step {step['median']:.0f} ms ({step['min']:.0f}-{step['max']:.0f}), checkpoint gaps "
                      f"{', '.join(f'{g:.0f}' for g in result['checkpoint_gap_ms'])} ms (of which checkpoints "
                      f"{', '.join(f'{g:.0f}' for g in result['checkpoint_ms'])} ms), "
                      f"{result['steps_per_s']:.2f} steps/s over the train call; load {result['load']['mean']:.2f} "
                      f"(max {result['load']['max']:.2f})", flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=1)


if __name__ == "__main__":
    main()

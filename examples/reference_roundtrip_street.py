"""Issue 23's end-to-end check: a zoo 2D preset through the reference checkpoint format and back, as video.

    python examples/reference_roundtrip_street.py --work runs/roundtrip --steps 30 [--videos 10]

1. exports street-seg2rgb-2d-random's generators as latest_net_G_A/B.pth with
   examples/export_reference_checkpoint.py --approximate (the zoo preset uses nearest x2 + conv
   up-steps, which the reference layout can only approximate; the up-steps are refitted on
   one training clip);
2. converts them back (`from_reference_checkpoint`: exact) and inflates them (`inflate`:
   framewise-equal);
3. fine-tunes the inflated model briefly with examples/video_from_reference.py (the warping
   loss, `--lambda-warp`) on the recipe's training videos, written as two folders of mp4 clips;
4. scores each stage on the recipe's held-out videos: per-frame quality (b2a pixel accuracy,
   the preset's headline; a2b mean absolute error to the true RGB, in [0, 255]) and the
   project's warping error (`keras_v2v.evaluation.motion.warping_error`: Lai et al., x 1e3 in
   [0, 1] units, along the *input* video's OpenCV flow, occlusions masked) and the same error
   without the warp (an output that hardly moves scores about as well unwarped), beside the
   ground truth's own warping error along the same flow (what a perfect translation scores).
   Scoring reuses a finished run in --work (its checkpoint): run again to rescore.
"""

import argparse
import importlib.util
import json
import os
import sys

import numpy as np

import keras_v2v as v2v
from keras_v2v import data, evaluation
from keras_v2v.evaluation.motion import evaluate_motion, unwarped_error, warping_error
from keras_v2v.training import pipeline, recipes

HERE = os.path.dirname(os.path.abspath(__file__))
PRESET = "street-seg2rgb-2d-random"
RECIPE = os.path.join(HERE, "..", "zoo", PRESET, "recipe.toml")


def _example(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def score(model, test, videos):
    """Per-frame quality and warping error of `model` on the first `videos` held-out pairs."""
    segs, rgbs = test.a[:videos], test.b[:videos]
    to_rgb = [model.translate(seg, direction="a2b") for seg in segs]
    to_seg = [model.translate(rgb, direction="b2a") for rgb in rgbs]
    quality = evaluation.evaluate(model, "synthetic_street", test, max_videos=videos)["metrics"]
    # Flow on the input: a2b outputs follow the segmentation's motion, b2a outputs the RGB's.
    a2b, b2a = evaluate_motion(np.stack(to_rgb), np.stack(segs)), evaluate_motion(np.stack(to_seg), np.stack(rgbs))
    return {
        "pixel_accuracy_b2a": quality["pixel_accuracy_denoise0"],
        "mae_a2b": float(np.mean([np.abs(o.astype("float32") - r.astype("float32")).mean()
                                  for o, r in zip(to_rgb, rgbs)])),
        "warping_error_a2b": a2b["warping_error"],
        "warping_error_b2a": b2a["warping_error"],
        # The same without the warp: an output that barely moves scores about as well unwarped.
        "unwarped_error_a2b": a2b["unwarped_error"],
        "unwarped_error_b2a": b2a["unwarped_error"],
        "warping_error_truth_a2b": warping_error(np.stack(rgbs), np.stack(segs)),
        "warping_error_truth_b2a": warping_error(np.stack(segs), np.stack(rgbs)),
        "unwarped_error_truth_a2b": unwarped_error(np.stack(rgbs), np.stack(segs)),
        "unwarped_error_truth_b2a": unwarped_error(np.stack(segs), np.stack(rgbs)),
    }


def write_clips(folder, videos):
    os.makedirs(folder, exist_ok=True)
    for k, video in enumerate(videos):
        data.write_video(os.path.join(folder, f"clip{k:03d}.mp4"), video, fps=8)
    return folder


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", required=True, help="folder for the checkpoints, clips, runs and results")
    parser.add_argument("--steps", type=int, default=30, help="fine-tuning steps of the inflated model")
    parser.add_argument("--videos", type=int, default=10, help="held-out videos to score")
    parser.add_argument("--lambda-warp", type=float, default=10.0, help="warping loss weight of the fine-tuning")
    parser.add_argument("--learning-rate", type=float, default=2e-5)
    args = parser.parse_args(argv)

    recipe_data = pipeline.load_data(recipes.load_recipe(RECIPE))
    train_a, train_b = np.asarray(recipe_data.train_a), np.asarray(recipe_data.train_b)
    fit_a = write_clips(os.path.join(args.work, "fit_a"), train_a[:1])
    fit_b = write_clips(os.path.join(args.work, "fit_b"), train_b[:1])
    pth = os.path.join(args.work, "pth")
    _example("export_reference_checkpoint").main([PRESET, pth, "--approximate", "--video-a",
                                                   os.path.join(fit_a, "clip000.mp4"), "--video-b",
                                                   os.path.join(fit_b, "clip000.mp4")])
    checkpoints = [os.path.join(pth, f"latest_net_G_{s}.pth") for s in "AB"]
    height, width = recipe_data.frame_shape[:2]

    results = {"original 2D preset": score(v2v.from_pretrained(PRESET, discriminators=False), recipe_data.test,
                                           args.videos)}
    converted = v2v.from_reference_checkpoint(*checkpoints, input_shape=(height, width),
                                              domains=recipe_data.domains)
    results["exported and converted back (2D)"] = score(converted, recipe_data.test, args.videos)
    results["inflated (3D, before training)"] = score(v2v.inflate(converted, discriminators=None),
                                                      recipe_data.test, args.videos)

    out = os.path.join(args.work, "video_preset")
    _example("video_from_reference").main([
        *checkpoints, "--videos-a", write_clips(os.path.join(args.work, "train_a"), train_a),
        "--videos-b", write_clips(os.path.join(args.work, "train_b"), train_b), "--size", str(height), str(width),
        "--steps", str(args.steps), "--chunk", str(args.steps), "--run-dir", os.path.join(args.work, "run"),
        "--out", out, "--lambda-warp", str(args.lambda_warp), "--learning-rate", str(args.learning_rate),
        "--domains", *recipe_data.domains, "--discriminator-layers", "2"])
    results[f"fine-tuned 3D ({args.steps} steps)"] = score(v2v.from_pretrained(out), recipe_data.test, args.videos)

    with open(os.path.join(args.work, "results.json"), "w") as handle:
        json.dump(results, handle, indent=2)
    keys = list(next(iter(results.values())))
    print("| stage | " + " | ".join(keys) + " |")
    print("|---|" + "---|" * len(keys))
    for stage, values in results.items():
        print(f"| {stage} | " + " | ".join(f"{values[k]:.4g}" for k in keys) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

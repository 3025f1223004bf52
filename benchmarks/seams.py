"""Window overlap in 3D `translate`: seam size against frames/s.

    python benchmarks/seams.py --presets vmnist-sph2sand-3d,street-seg2rgb-3d --frames 64 --json seams.json

A 3D preset translates a long clip in windows of its training depth D,
blended with tent weights where they overlap. For overlaps 0, D/4 and D/2
this measures, on held-out clips of the preset's own task (generated at
`--frames` length):
  - seam error: how far the windowed output is from translating the whole
    clip in one window (the same network, no seams), mean and max over pixels
    in [0, 1] units;
  - boundary jump: the mean frame-to-frame change at window boundaries divided
    by the mean change elsewhere (1 = no visible seam);
  - first/last change: the change at the clip's first and last transitions over
    the mean change elsewhere, beside the input's (below it = frozen ends);
  - on a constant clip: the largest frame-to-frame change (0 = seamless);
  - frames/s (median of `--runs` timed calls after a warm-up, interleaved).
"""

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def clips_for(preset, frames, count):
    """Held-out clips of the preset's task, `frames` long, as uint8 in the direction it is scored."""
    from keras_v2v import evaluation, presets
    from keras_v2v.training import pipeline, recipes

    folder, _, _ = presets.resolve(preset)
    recipe = recipes.load_recipe(os.path.join(folder, "recipe.toml"))
    key = "depth" if recipe.dataset["generator"] == "volumetric_mnist" else "frames"
    recipe = recipe.replace(dataset={key: frames, "n": max(10, int(np.ceil(count / 0.3)) + 1)})
    test = pipeline.load_data(recipe).test
    direction = evaluation.task_metric(recipe.dataset["generator"]).direction
    videos = test.a if direction == "a2b" else test.b
    return [np.asarray(v) for v in videos[:count]], direction


def frame_changes(video):
    return np.abs(np.diff(video.astype(np.float32) / 255.0, axis=0)).mean(axis=(1, 2, 3))


def edge_change(video):
    """Change at the first and last transitions over the mean change elsewhere (1 = ends move like the middle)."""
    changes = frame_changes(video)
    return float(np.mean([changes[0], changes[-1]]) / max(np.mean(changes[1:-1]), 1e-9))


def boundary_jump(video, window, overlap):
    from keras_v2v.utils import windows

    changes = frame_changes(video)
    margin = windows.time_margin(len(video), window, overlap)
    # Windows run over the video mirrored by `margin` frames each side; back to the video's frames.
    starts = [s - margin for s in windows.window_starts(len(video) + 2 * margin, window, overlap)]
    # Transition t -> t + 1 crosses a boundary where a window starts or ends.
    edges = {s - 1 for s in starts[1:]} | {s + window - 1 for s in starts[:-1]}
    edges = sorted(e for e in edges if 0 <= e < len(changes))
    inner = [c for t, c in enumerate(changes) if t not in edges]
    return float(np.mean(changes[edges]) / max(np.mean(inner), 1e-9)) if edges and inner else 1.0


def measure(preset, frames, count, runs):
    import keras_v2v as v2v

    model = v2v.from_pretrained(preset, discriminators=False)
    depth = model.sample_shape[0]
    clips, direction = clips_for(preset, frames, count)
    constant = np.repeat(clips[0][:1], frames, axis=0)
    full = [model.translate(c, direction=direction, window=len(c), batch_size=1) for c in clips]
    rows = []
    overlaps = sorted({0, depth // 4, depth // 2})
    timings = {o: [] for o in overlaps}
    outputs = {}
    for o in overlaps:  # warm-up (tracing) and outputs
        outputs[o] = [model.translate(c, direction=direction, overlap=o, batch_size=4) for c in clips]
    for _ in range(runs):  # interleaved timing
        for o in overlaps:
            start = time.perf_counter()
            model.translate(clips[0], direction=direction, overlap=o, batch_size=4)
            timings[o].append(time.perf_counter() - start)
    for o in overlaps:
        errors = np.concatenate([np.abs(w.astype(np.float32) - f.astype(np.float32)).ravel() / 255.0
                                 for w, f in zip(outputs[o], full)])
        steady = model.translate(constant, direction=direction, overlap=o, batch_size=4).astype(np.float32) / 255.0
        rows.append({
            "preset": preset, "window": depth, "overlap": o,
            "seam_error_mean": float(errors.mean()), "seam_error_max": float(errors.max()),
            "boundary_jump": float(np.mean([boundary_jump(w, depth, o) for w in outputs[o]])),
            "edge_change": float(np.mean([edge_change(w) for w in outputs[o]])),
            "input_edge_change": float(np.mean([edge_change(c) for c in clips])),
            "constant_clip_max_change": float(np.abs(np.diff(steady, axis=0)).max()),
            "frames_per_s": frames / statistics.median(timings[o]),
            "frames_per_s_min_max": [frames / max(timings[o]), frames / min(timings[o])],
        })
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--presets", default="vmnist-sph2sand-3d,street-seg2rgb-3d")
    p.add_argument("--frames", type=int, default=64)
    p.add_argument("--clips", type=int, default=6)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--json", default=None)
    p.add_argument("--no-mirror", action="store_true",
                   help="translate without mirroring a long video's ends (as before 2026-12-07), for before/after")
    args = p.parse_args(argv)
    if args.no_mirror:
        from keras_v2v.utils import windows

        windows.time_margin = lambda *_: 0
    rows = [row for name in args.presets.split(",") for row in measure(name, args.frames, args.clips, args.runs)]
    print("| preset | window | overlap | seam error mean / max | boundary jump | first/last change (input's) "
          "| constant clip max change | frames/s (min-max) |")
    print("|---|---:|---:|---|---:|---:|---:|---|")
    for r in rows:
        lo, hi = r["frames_per_s_min_max"]
        print(f"| {r['preset']} | {r['window']} | {r['overlap']} | {r['seam_error_mean']:.4f} / "
              f"{r['seam_error_max']:.3f} | {r['boundary_jump']:.2f} | {r['edge_change']:.2f} ({r['input_edge_change']:.2f}) "
              f"| {r['constant_clip_max_change']:.4f} "
              f"| {r['frames_per_s']:.1f} ({lo:.1f}-{hi:.1f}) |")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""3D `model.translate` against its 2D siblings and a native PyTorch translate with the same weights.

    python benchmarks/translate_native.py --json out.json                 # this process's Keras backend
    python benchmarks/translate_native.py --backends tensorflow,torch,jax --json out.json

For every bundled 3D preset and each clip (`--clips`: "sample" = its sample
clip; "64" = the sample tiled to 64 frames at the training size; "64x128" = 64
frames of 128x128) this times, interleaved, `model.translate` and
`native_translate.native_translate` (the same architecture in PyTorch with the
Keras weights, the same windows, overlap, time mirroring, tent blending and
batching; parity checked: uint8 outputs within one grey level), then
`model.translate` of the preset's 2D siblings (zoo/<task>-2d-*) on the same clip.
The first call of each (tracing, allocation) is reported apart; then
`--repeats` calls give the median and min-max frames/s. `--backends` runs one
process per Keras backend (tensorflow, torch, jax) and merges their rows.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def make_clip(row, spec):
    from translate import clip_for

    if spec == "sample":
        return clip_for(row, None, None)
    frames, _, size = spec.partition("x")
    return clip_for(row, int(frames), int(size) if size else None)


def lap(call):
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def timed(call, repeats):
    """The first call's output and seconds, then `repeats` more calls' seconds."""
    started = time.perf_counter()
    out = call()
    first = time.perf_counter() - started
    return out, first, [lap(call) for _ in range(repeats)]


def summary(frames, first, times):
    fps = sorted(frames / t for t in times)
    return {"first_s": round(first, 4), "fps_median": round(statistics.median(fps), 2),
            "fps_min": round(fps[0], 2), "fps_max": round(fps[-1], 2), "times_s": [round(t, 4) for t in times]}


def siblings(name, rows):
    task = name[: -len("-3d")]
    return [r for r in rows if r["name"].startswith(task + "-2d-")]


def measure(args):
    import keras
    import numpy as np
    import torch

    import keras_v2v as v2v
    from native_translate import native_generator, native_translate

    torch.set_num_threads(args.threads)
    rows = [r for r in v2v.list_pretrained() if r["weights"] == "bundled" and r["sample_clip"]]
    presets = [r for r in rows if r["name"].endswith("-3d")]
    if args.presets:
        presets = [r for r in presets if r["name"] in args.presets.split(",")]
    results = []
    for row in presets:
        model = v2v.from_pretrained(row["name"], discriminators=False)
        net = native_generator(model.generator_a2b)
        window = model.sample_shape[0]
        for spec in args.clips.split(","):
            clip = make_clip(row, spec)
            load_before = os.getloadavg()[0]

            def run_keras():
                return model.translate(clip, batch_size=args.batch_size)

            def run_native():
                return native_translate(net, clip, window=window, batch_size=args.batch_size,
                                        even=not args.full_batches)

            keras_out, keras_first, keras_times = timed(run_keras, 0)
            native_out, native_first, native_times = timed(run_native, 0)
            diff = int(np.abs(keras_out.astype(int) - native_out.astype(int)).max())
            assert diff <= 1, f"{row['name']} {spec}: native differs from Keras by {diff} grey levels"
            for _ in range(args.repeats):  # interleaved, so load changes hit both alike
                keras_times.append(lap(run_keras))
                native_times.append(lap(run_native))
            entry = {"preset": row["name"], "clip": spec, "shape": list(clip.shape), "window": window,
                     "backend": keras.backend.backend(), "parity_max_grey_levels": diff,
                     "keras": summary(len(clip), keras_first, keras_times),
                     "native_torch": summary(len(clip), native_first, native_times), "siblings": {}}
            entry["ratio"] = round(entry["keras"]["fps_median"] / entry["native_torch"]["fps_median"], 3)
            for sibling in siblings(row["name"], rows) if not args.no_siblings else []:
                model_2d = v2v.from_pretrained(sibling["name"], discriminators=False)
                _, first, times = timed(lambda: model_2d.translate(clip, batch_size=args.batch_size), args.repeats)
                entry["siblings"][sibling["name"]] = summary(len(clip), first, times)
            entry["load_1min"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
            results.append(entry)
            sib = " ".join(f"{k[len(row['name']) - 2:]} {v['fps_median']:.0f}" for k, v in entry["siblings"].items())
            print(f"{row['name']:<20} {spec:<7} {entry['backend']:<10} keras {entry['keras']['fps_median']:7.1f} "
                  f"({entry['keras']['fps_min']:.0f}-{entry['keras']['fps_max']:.0f}) native "
                  f"{entry['native_torch']['fps_median']:7.1f} ratio {entry['ratio']:.2f}  2D: {sib}  "
                  f"load {entry['load_1min']}", flush=True)
    versions = {"python": platform.python_version(), "keras": keras.__version__, "torch": torch.__version__,
                "numpy": np.__version__, "backend": keras.backend.backend()}
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf
        versions["tensorflow"] = tf.__version__
    if keras.backend.backend() == "jax":
        import jax
        versions["jax"] = jax.__version__
    return {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "versions": versions,
            "threads": args.threads, "batch_size": args.batch_size, "native_full_batches": args.full_batches,
            "repeats": args.repeats,
            "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY"), "results": results}


def table(paths):
    """The markdown table of saved runs (JSON of this script, one backend or merged)."""
    lines = ["| preset | clip (T x H x W x C) | backend | Keras frames/s (min-max) | first call | "
             "native torch frames/s (min-max) | Keras / native | 2D siblings' frames/s | load 1 min |",
             "|---|---|---|---:|---:|---:|---:|---|---|"]
    for path in paths:
        with open(path) as handle:
            report = json.load(handle)
        for run in report.get("runs", [report]):
            for r in run["results"]:
                k, n = r["keras"], r["native_torch"]
                sib = ", ".join(f"{name.split('-2d-')[1]} {v['fps_median']:.0f}" for name, v in r["siblings"].items())
                lines.append(f"| {r['preset']} | {'x'.join(map(str, r['shape']))} | {r['backend']} | "
                             f"{k['fps_median']:.1f} ({k['fps_min']:.0f}-{k['fps_max']:.0f}) | {k['first_s']:.2f} s | "
                             f"{n['fps_median']:.1f} ({n['fps_min']:.0f}-{n['fps_max']:.0f}) | {r['ratio']:.2f}x | "
                             f"{sib or '-'} | {r['load_1min'][0]:.2f}-{r['load_1min'][1]:.2f} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", default=None, help="comma-separated 3D presets (default: every bundled one)")
    parser.add_argument("--clips", default="sample,64,64x128")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (native and Keras-on-torch)")
    parser.add_argument("--no-siblings", action="store_true")
    parser.add_argument("--full-batches", action="store_true",
                        help="native pads every pass to --batch-size (as keras_v2v before i22; to time that version)")
    parser.add_argument("--backends", default=None, help="one process per Keras backend, rows merged")
    parser.add_argument("--json", default=None)
    parser.add_argument("--table", nargs="+", default=None, help="print the markdown table of saved JSON files")
    args = parser.parse_args(argv)
    if args.table:
        print(table(args.table))
        return
    if args.backends:
        merged = {"runs": []}
        for backend in args.backends.split(","):
            out = f"{args.json or 'translate_native'}.{backend}.tmp.json"
            forward = ["--clips", args.clips, "--repeats", str(args.repeats), "--batch-size", str(args.batch_size),
                       "--threads", str(args.threads)] + (["--presets", args.presets] if args.presets else []) \
                + (["--no-siblings"] if args.no_siblings else []) + (["--full-batches"] if args.full_batches else [])
            env = {**os.environ, "KERAS_BACKEND": backend}
            env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            subprocess.run([sys.executable, os.path.abspath(__file__), *forward, "--json", out], env=env, check=True)
            with open(out) as handle:
                merged["runs"].append(json.load(handle))
            os.remove(out)
        result = merged
    else:
        result = measure(args)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=2)


if __name__ == "__main__":
    main()

"""Frames per second of an exported generator in its runtime against `model.translate` on TensorFlow.

    python benchmarks/serving.py                                  # vmnist-sph2sand-3d, ONNX vs Keras/TF
    python benchmarks/serving.py --formats onnx,litert,saved_model --frames 128 --runs 7 --json serving.json

The preset is exported once per format (static shape: its training clip,
dynamic batch; with --size, every axis dynamic) into a temporary folder. Every implementation translates the
same uint8 video through the same sliding windows and batching
(`keras_v2v.models.inference.translate`); only the `generate` call differs:
the Keras generator on TensorFlow (`model.translate`) or the exported graph
in onnxruntime, ai-edge-litert or `tf.saved_model.load`. One untimed warm-up
call each, then `--runs` timed calls, taken round-robin so that a change in
machine load hits every implementation alike. Reports the median and min-max
frames/s, checks that every output equals Keras' within one grey level, and
records the 1-minute load average before and after.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from importlib import metadata

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


RUNTIMES = {"onnx": "onnxruntime", "litert": "ai-edge-litert", "saved_model": "tensorflow"}


def cpu_name():
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="vmnist-sph2sand-3d")
    parser.add_argument("--formats", default="onnx", help="comma-separated: onnx, litert, saved_model")
    parser.add_argument("--frames", type=int, default=96, help="video length (the sample clip tiled in time)")
    parser.add_argument("--size", type=int, default=None,
                        help="resize frames to size x size (the exports are then --dynamic)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=8, help="windows per forward pass, for every runtime")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="intra-op threads for every runtime")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    import keras
    import numpy as np

    import keras_v2v as v2v
    from keras_v2v import data, serving

    row = {r["name"]: r for r in v2v.list_pretrained()}[args.preset]
    clip = data.to_channels(data.read_video(row["sample_clip"]), row["input_shape"][-1])
    video = np.concatenate([clip] * -(-args.frames // len(clip)))[: args.frames]
    if args.size:
        video = data.resize.resize_frames(video, (args.size, args.size))
    model = v2v.from_pretrained(args.preset, discriminators=False)

    runners = {"keras-tensorflow (model.translate)": lambda: model.translate(video, batch_size=args.batch_size)}
    versions = {"keras": keras.__version__, "tensorflow": tf.__version__}
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in args.formats.split(","):
            out = os.path.join(tmp, fmt)
            serving.export(args.preset, out, format=fmt, dynamic=bool(args.size))
            runtime = serving.open_export(out, threads=args.threads)
            package = RUNTIMES[fmt]
            if package != "tensorflow":
                versions[package] = metadata.version(package)
            runners[f"{fmt} in {package}"] = (lambda r=runtime: serving.translate(r, video, batch_size=args.batch_size))

        reference = None
        for name, run in runners.items():  # warm-up (tracing, session set-up) and the parity check
            out = run()
            reference = out if reference is None else reference
            worst = int(np.abs(out.astype(int) - reference.astype(int)).max())
            assert worst <= 1, f"{name} differs from Keras by {worst} grey levels"
        load_before = os.getloadavg()[0]
        times = {name: [] for name in runners}
        for _ in range(args.runs):
            for name, run in runners.items():
                started = time.perf_counter()
                run()
                times[name].append(time.perf_counter() - started)
        load_after = os.getloadavg()[0]

    machine = f"{cpu_name()}, {os.cpu_count()} cores, {platform.system()} {platform.release()}, Python " \
              f"{platform.python_version()}"
    print(f"{args.preset}: {len(video)} frames of {'x'.join(map(str, video.shape[1:]))}, batch {args.batch_size}, "
          f"{args.threads} threads, {args.runs} runs; {machine}; load {load_before:.2f} -> {load_after:.2f}")
    results = []
    for name, values in times.items():
        fps = sorted(len(video) / t for t in values)
        results.append({"implementation": name, "frames_per_s_median": statistics.median(fps),
                        "frames_per_s_min": fps[0], "frames_per_s_max": fps[-1], "seconds": values})
        print(f"  {name:<40} {statistics.median(fps):7.1f} frames/s (min {fps[0]:.1f}, max {fps[-1]:.1f})")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"preset": args.preset, "video": list(video.shape), "batch_size": args.batch_size,
                       "threads": args.threads, "runs": args.runs, "machine": machine, "versions": versions,
                       "load_average_1min": [load_before, load_after], "results": results}, handle, indent=2)


if __name__ == "__main__":
    main()

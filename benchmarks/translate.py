"""Inference speed of the bundled presets: frames per second of `model.translate`.

    python benchmarks/translate.py                      # every bundled preset, its sample clip
    python benchmarks/translate.py --presets vmnist-sph2sand-3d --frames 64 --size 128 --repeats 5

Each preset is loaded once (generators only, as the demo does); the first
translation (graph tracing) is timed apart from the next `--repeats`. With
`--frames`/`--size` the sample clip is tiled in time and resized, to see how
cost grows with length and resolution. Prints a table; `--json OUT` saves it.
"""

import argparse
import json
import os
import platform
import resource
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def clip_for(row, frames, size):
    import numpy as np

    from keras_v2v import data

    clip = data.to_channels(data.read_video(row["sample_clip"]), row["input_shape"][-1])
    if frames:
        clip = np.concatenate([clip] * -(-frames // len(clip)))[:frames]
    if size:
        clip = data.resize.resize_frames(clip, (size, size))
    return clip


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", default=None, help="comma-separated names (default: every bundled preset)")
    parser.add_argument("--frames", type=int, default=None, help="tile the sample clip to this many frames")
    parser.add_argument("--size", type=int, default=None, help="resize frames to size x size")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    import keras

    import keras_v2v as v2v

    rows = [r for r in v2v.list_pretrained() if r["weights"] == "bundled" and r["sample_clip"]]
    if args.presets:
        wanted = args.presets.split(",")
        rows = [r for r in rows if r["name"] in wanted]
    results = []
    for row in rows:
        model = v2v.from_pretrained(row["name"], discriminators=False)
        clip = clip_for(row, args.frames, args.size)
        started = time.perf_counter()
        model.translate(clip, batch_size=args.batch_size)
        first = time.perf_counter() - started
        times = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            model.translate(clip, batch_size=args.batch_size)
            times.append(time.perf_counter() - started)
        best = min(times)
        results.append({"preset": row["name"], "clip": list(clip.shape), "first_s": first, "best_s": best,
                        "frames_per_s": len(clip) / best, "peak_rss_mb": peak_rss_mb()})
        print(f"{row['name']:<30} {'x'.join(map(str, clip.shape)):<14} first {first:6.2f} s  "
              f"best {best:6.3f} s  {len(clip) / best:8.1f} frames/s  peak RSS {peak_rss_mb():6.0f} MB", flush=True)
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Keras {keras.__version__} " \
              f"on {keras.backend.backend()}"
    print(machine)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"machine": machine, "results": results}, handle, indent=2)


if __name__ == "__main__":
    main()

"""Where JAX's compiled translate forward spends its time: XLA thunks per Keras layer.

    KERAS_BACKEND=jax python benchmarks/jax_profile.py phantom-mr2ct-3d
    KERAS_BACKEND=jax python benchmarks/jax_profile.py street-seg2rgb-3d --batch 5 --top 30

Runs a preset's generator (`compiled_forward`, as `translate` does) on a random batch of
`--batch` windows of its clip length, traces `--calls` calls with `jax.profiler` (a Perfetto
trace), sums each XLA thunk's time per call and names the Keras layer it came from (the
`op_name` metadata of the compiled HLO). Timing a layer alone misleads on XLA's CPU (page
faults of fresh buffers, fusions with neighbours): this measures the layers inside the
whole program.
"""

import argparse
import collections
import glob
import gzip
import json
import os
import re
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


def thunk_layers(forward, x):
    """{HLO instruction name: op_name} of `compiled_forward`'s program (inference forms included)."""
    text = forward.compiled_text(x)
    names = {}
    for line in text.splitlines():
        match = re.match(r"\s*(?:ROOT )?%([\w.\-]+) = .*?op_name=\"([^\"]+)\"", line)
        if match:
            names[match.group(1)] = match.group(2)
    return names


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("preset")
    parser.add_argument("--batch", type=int, default=5, help="windows per call (translate's batch)")
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)

    import jax
    import keras
    import numpy as np

    import keras_v2v as v2v
    from keras_v2v.models.trainers import compiled_forward

    if keras.backend.backend() != "jax":
        raise SystemExit("run with KERAS_BACKEND=jax")
    row = {r["name"]: r for r in v2v.list_pretrained()}[args.preset]
    generator = v2v.from_pretrained(args.preset, discriminators=False).generator_a2b
    shape = tuple(row["input_shape"])
    x = np.random.default_rng(0).uniform(-1, 1, (args.batch,) + shape).astype("float32")
    forward = compiled_forward(generator)
    for _ in range(3):
        np.asarray(forward(x))
    with tempfile.TemporaryDirectory() as folder:
        with jax.profiler.trace(folder, create_perfetto_trace=True):
            for _ in range(args.calls):
                np.asarray(forward(x))
        (trace,) = glob.glob(os.path.join(folder, "**", "perfetto_trace.json.gz"), recursive=True)
        with gzip.open(trace) as handle:
            events = json.load(handle)
    events = events["traceEvents"] if isinstance(events, dict) else events
    names = thunk_layers(forward, x)
    per_thunk = collections.Counter()
    for event in events:
        if event.get("ph") == "X" and event["name"] in names:
            per_thunk[event["name"]] += event.get("dur", 0) / 1000 / args.calls
    per_layer = collections.Counter()
    for thunk, ms in per_thunk.items():
        per_layer[names[thunk].split("/")[1] if "/" in names[thunk] else names[thunk]] += ms
    print(f"{args.preset}: {args.batch} x {'x'.join(map(str, shape))}, XLA thunks {sum(per_thunk.values()):.1f} ms a call")
    print("\nper layer (ms):")
    for layer, ms in per_layer.most_common(args.top):
        print(f"{ms:8.2f}  {layer}")
    print("\nper thunk (ms):")
    for thunk, ms in per_thunk.most_common(args.top):
        print(f"{ms:8.2f}  {thunk:34s} {names[thunk][:100]}")


if __name__ == "__main__":
    main()

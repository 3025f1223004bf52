"""Data-parallel CycleGAN training: steps per second at 1, 2 and 4 devices per backend.

    python benchmarks/distribution.py                        # tensorflow and jax, 1/2/4 devices
    python benchmarks/distribution.py --backends jax --devices 1 2 --steps 10 --json dist.json

Each (backend, devices) pair runs in its own process, because the devices must
exist before the backend starts: on a host without GPUs the CPU is split into N
virtual devices (JAX: XLA_FLAGS=--xla_force_host_platform_device_count=N,
TensorFlow: N logical CPU devices, which `keras_v2v.training.distribution`
makes). Virtual CPU devices share the same cores, so on CPU the figure shows the
overhead of the mechanism (splitting the batch, all-reducing the gradients,
gathering the pool's batch), not a speed-up. On a host with GPUs the same script
measures the real devices (as many as are visible; set CUDA_VISIBLE_DEVICES).

The global batch is the same at every device count (the recipe's batch; it must
split evenly, so use a multiple of the largest count). Each run trains through
`model.fit` inside `distribution.scope(...)`, discards --warmup steps (the first
one compiles), then times --steps steps with a callback. The parent samples the
1-minute load average every 2 s and reports its mean and max.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULT_MARKER = "@@BENCHMARK_RESULT@@ "


def worker(args):
    """One (backend, devices) measurement; the backend is KERAS_BACKEND, set by the parent."""
    sys.path.insert(0, ROOT)
    import keras
    import numpy as np

    import keras_v2v as v2v
    from keras_v2v.training import distribution

    class Timer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times = []

        def on_train_batch_begin(self, batch, logs=None):
            self.started = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            # Reading the logs waits for the step to finish (JAX and TF dispatch asynchronously).
            float(logs["g_loss"])
            self.times.append(time.perf_counter() - self.started)

    size, batch = args.size, args.batch
    rng = np.random.default_rng(0)
    steps = args.warmup + args.steps
    a = rng.uniform(-1, 1, (steps * batch, size, size, 3)).astype("float32")
    b = rng.uniform(-1, 1, (steps * batch, size, size, 3)).astype("float32")
    plan = distribution.make_plan(args.devices[0])
    with distribution.scope(plan):
        keras.utils.set_random_seed(0)
        model = v2v.cyclegan_2d(input_shape=(size, size, 3), filters=args.filters, num_blocks=args.blocks,
                                discriminator_filters=args.filters, discriminator_layers=2)
        model.compile(generator_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                      discriminator_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5), pool_size=8)
        timer = Timer()
        model.fit(a, b, batch_size=batch, epochs=1, shuffle=False, verbose=0, callbacks=[timer])
    timed = timer.times[args.warmup:]
    median = statistics.median(timed)
    platform_name = "cpu"
    if keras.backend.backend() == "jax":
        import jax

        platform_name = jax.default_backend()
    else:
        import tensorflow as tf

        platform_name = "gpu" if tf.config.list_physical_devices("GPU") else "cpu"
    print(RESULT_MARKER + json.dumps({
        "backend": keras.backend.backend(), "devices": args.devices[0], "platform": platform_name,
        "mechanism": plan.mechanism, "first_step_s": timer.times[0], "median_step_s": median,
        "min_step_s": min(timed), "max_step_s": max(timed), "steps_per_s": 1.0 / median,
    }), flush=True)


class LoadSampler(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.samples, self.stopped = [], threading.Event()

    def run(self):
        while not self.stopped.is_set():
            self.samples.append(os.getloadavg()[0])
            self.stopped.wait(2.0)


def measure(backend, devices, args):
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "TF_CONFIG")
           and not k.startswith("KERAS_DISTRIBUTION_")}
    env.update(KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=os.pathsep.join([ROOT, env.get("PYTHONPATH", "")]))
    if backend == "jax":
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    command = [sys.executable, __file__, "--worker", "--devices", str(devices), "--steps", str(args.steps),
               "--warmup", str(args.warmup), "--size", str(args.size), "--batch", str(args.batch),
               "--filters", str(args.filters), "--blocks", str(args.blocks)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=args.timeout)
    for line in result.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            return json.loads(line[len(RESULT_MARKER):])
    tail = (result.stderr.strip().splitlines() or ["no output"])[-1]
    return {"backend": backend, "devices": devices, "error": tail}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", nargs="+", default=["tensorflow", "jax"], choices=["tensorflow", "jax"])
    parser.add_argument("--devices", nargs="+", type=int, default=[1, 2, 4])
    parser.add_argument("--steps", type=int, default=10, help="timed steps per run")
    parser.add_argument("--warmup", type=int, default=2, help="untimed first steps (the first compiles)")
    parser.add_argument("--size", type=int, default=32, help="frame height and width")
    parser.add_argument("--batch", type=int, default=8, help="global batch (frames per step)")
    parser.add_argument("--filters", type=int, default=8)
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--timeout", type=int, default=900, help="seconds per run")
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    for devices in args.devices:
        if devices < 1 or args.batch % devices:
            parser.error(f"--batch {args.batch} must split evenly over --devices {devices}")
    sampler = LoadSampler()
    sampler.start()
    rows = []
    for backend in args.backends:
        for devices in args.devices:
            rows.append(measure(backend, devices, args))
            print(json.dumps(rows[-1]), flush=True)
    sampler.stopped.set()
    load = {"mean": statistics.mean(sampler.samples), "max": max(sampler.samples)} if sampler.samples else {}
    config = {k: getattr(args, k) for k in ("size", "batch", "filters", "blocks", "steps", "warmup")}
    report = {"config": config, "load_1min": load, "cpus": os.cpu_count(), "python": platform.python_version(),
              "rows": rows}
    print(f"\n2D CycleGAN, global batch {args.batch} of {args.size}x{args.size}x3, filters {args.filters}, "
          f"{args.blocks} blocks; median of {args.steps} steps after {args.warmup}")
    print("| backend | devices | platform | steps/s | step s (min-max) | vs 1 device | first step s |")
    print("|---|---|---|---|---|---|---|")
    single = {r["backend"]: r["steps_per_s"] for r in rows if r.get("devices") == 1 and "error" not in r}
    for r in rows:
        if "error" in r:
            print(f"| {r['backend']} | {r['devices']} | - | failed: {r['error']} | | | |")
            continue
        ratio = f"{r['steps_per_s'] / single[r['backend']]:.2f}x" if r["backend"] in single else "-"
        print(f"| {r['backend']} | {r['devices']} | {r['platform']} | {r['steps_per_s']:.2f} | "
              f"{r['median_step_s']:.3f} ({r['min_step_s']:.3f}-{r['max_step_s']:.3f}) | {ratio} | "
              f"{r['first_step_s']:.1f} |")
    if load:
        print(f"1-minute load average during the runs: mean {load['mean']:.1f}, max {load['max']:.1f} "
              f"on {os.cpu_count()} CPUs")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(report, handle, indent=2)


if __name__ == "__main__":
    main()

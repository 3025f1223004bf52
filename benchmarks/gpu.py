"""The GPU race: the paper's 3D and the reference 2D configuration, every engine, float32 and bfloat16.

    bash benchmarks/gpu.sh OUT_DIR              # on a GPU machine (about 8 minutes on one H100)
    python benchmarks/gpu.py --tiny --out DIR   # the same pipeline on CPU at a tiny size (a test runs it)

Rows: Keras-TensorFlow (XLA off and on), Keras-JAX, Keras-torch, native PyTorch
eager and compiled, each in float32 and in bfloat16 mixed precision
(Keras `mixed_bfloat16`; `torch.autocast` for native PyTorch). Columns: s/step
(median of the timed steps), clips (or frames) per second, peak accelerator
memory, and model FLOP utilisation: the architecture's FLOPs per step (counted
from the layers: 2 x multiply-adds of every convolution, the "resize"
up-convolutions at their output resolution; a step is 6 generator and 2
discriminator forward passes with their backward passes for the generators,
then 4 discriminator forward passes with theirs, counted as 3 x forward)
divided by step time and by the device's dense peak for the dtype. Each
implementation runs in its own process; a global time budget skips what no
longer fits (reported as skipped) so the script always ends in time.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [ROOT, HERE]

import train_step  # noqa: E402  (the configs, the native model and the Keras builder)

RESULT_MARKER = train_step.RESULT_MARKER
# Dense peak FLOP/s by device name fragment: (float32 as the frameworks run it on
# tensor cores, i.e. TF32; bfloat16). NVIDIA data sheets, SXM parts.
PEAKS = {"H100": (494.7e12, 989.4e12), "H200": (494.7e12, 989.4e12), "A100": (156e12, 312e12)}
IMPLEMENTATIONS = ("native-eager", "keras-tensorflow", "keras-jax", "keras-torch", "keras-tensorflow-xla",
                   "native-compile")
DTYPES = ("float32", "bfloat16")


def forward_flops(network, sample_shape):
    """Forward FLOPs of one sample through a keras-v2v network: 2 x multiply-adds of its convolutions.

    The network is cloned onto a fixed-size input so every layer has a concrete
    output shape; an up-convolution counts at its output (upsampled) resolution.
    """
    import keras
    import numpy as np

    from keras_v2v.models.layers import ResidualBlock

    clone = keras.models.clone_model(network, input_tensors=keras.Input(batch_shape=(1,) + tuple(sample_shape)))
    total = 0
    for layer in clone.layers:
        if isinstance(layer, ResidualBlock):
            kernels = [layer.conv1.kernel, layer.conv2.kernel]
        elif getattr(layer, "kernel", None) is not None:
            kernels = [layer.kernel]
        else:
            continue
        spatial = int(np.prod(layer.output.shape[1:-1]))
        total += sum(2 * spatial * int(np.prod(k.shape)) for k in kernels)
    return total


def step_flops(model, sample_shape, batch):
    """FLOPs of one train step (see the module docstring)."""
    shape_b = tuple(sample_shape[:-1]) + (model.channels_b,)
    f_g = forward_flops(model.generator_a2b, sample_shape)
    f_d = forward_flops(model.discriminator_b, shape_b)
    return batch * (3 * (6 * f_g + 2 * f_d) + 3 * 4 * f_d), f_g, f_d


def _device_name():
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None
    except (OSError, subprocess.TimeoutExpired):
        return None


# ------------------------------------------------------------------ worker
def worker(spec):
    """One implementation x dtype x config; prints one JSON result."""
    config, impl, dtype, steps, warmup = spec["config"], spec["impl"], spec["dtype"], spec["steps"], spec["warmup"]
    device = spec["device"]
    result = {"impl": impl, "dtype": dtype}
    if impl.startswith("native"):
        import torch

        import native_torch

        nets = {k: v.to(device) for k, v in native_torch.build_cyclegan(config).items()}
        trainer = native_torch.Trainer(nets, compile=impl == "native-compile")
        a_np, b_np = train_step.make_data(config, warmup + steps, 0)
        a = native_torch.to_channels_first(torch.from_numpy(a_np), config["rank"]).to(device)
        b = native_torch.to_channels_first(torch.from_numpy(b_np), config["rank"]).to(device)
        autocast = torch.autocast(device_type="cuda" if device.startswith("cuda") else "cpu", dtype=torch.bfloat16,
                                  enabled=dtype == "bfloat16")
        if device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        times = []
        for step in range(warmup + steps):
            lo, hi = step * config["batch"], (step + 1) * config["batch"]
            start = time.perf_counter()
            with autocast:
                g, d = trainer.step(a[lo:hi], b[lo:hi])
            g.item(), d.item()
            times.append(time.perf_counter() - start)
        result["peak_memory_bytes"] = torch.cuda.max_memory_allocated() if device.startswith("cuda") else None
    else:
        import keras

        if dtype == "bfloat16":
            keras.config.set_dtype_policy("mixed_bfloat16")
        jit = True if impl == "keras-tensorflow-xla" else ("auto" if impl != "keras-tensorflow" else False)
        model = train_step.build_keras_model(config, 0, jit_compile=jit)
        a, b = train_step.make_data(config, warmup + steps, 0)

        class Timer(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.times = []

            def on_train_batch_begin(self, batch, logs=None):
                self._start = time.perf_counter()

            def on_train_batch_end(self, batch, logs=None):
                self.times.append(time.perf_counter() - self._start)

        timer = Timer()
        model.fit(x=(a, b), batch_size=config["batch"], epochs=1, shuffle=False, verbose=0, callbacks=[timer])
        times = timer.times
        result["peak_memory_bytes"] = _keras_peak_memory()
        keras.config.set_dtype_policy("float32")
        result["flops_per_step"], result["generator_forward_flops"], result["discriminator_forward_flops"] = \
            step_flops(model, train_step.sample_shape(config), config["batch"])
    timed = times[warmup:]
    result.update(step_times_s=times, median_s=statistics.median(timed), first_step_s=times[0])
    return result


def _keras_peak_memory():
    import keras

    backend = keras.backend.backend()
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            if tf.config.list_physical_devices("GPU"):
                return tf.config.experimental.get_memory_info("GPU:0")["peak"]
        elif backend == "jax":
            import jax

            stats = jax.devices()[0].memory_stats() or {}
            return stats.get("peak_bytes_in_use")
        elif backend == "torch":
            import torch

            if torch.cuda.is_available():
                return torch.cuda.max_memory_allocated()
    except Exception:  # a backend without memory statistics on this device
        return None
    return None


# ------------------------------------------------------------------ parent
def run_one(spec, timeout):
    env = dict(os.environ)
    impl = spec["impl"]
    env["KERAS_BACKEND"] = {"keras-tensorflow": "tensorflow", "keras-tensorflow-xla": "tensorflow",
                            "keras-jax": "jax"}.get(impl, "torch")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    env.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")  # JAX's peak memory, not a preallocated pool
    env["PYTHONPATH"] = os.pathsep.join([ROOT, HERE, env.get("PYTHONPATH", "")])
    start = time.time()
    try:
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", json.dumps(spec)],
                              env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"impl": impl, "dtype": spec["dtype"], "error": f"timed out after {timeout:.0f} s"}
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT_MARKER)]
    if proc.returncode or not lines:
        tail = " | ".join((proc.stdout + proc.stderr).strip().splitlines()[-4:])
        return {"impl": impl, "dtype": spec["dtype"], "error": f"exit {proc.returncode}: {tail[-500:]}"}
    result = json.loads(lines[-1][len(RESULT_MARKER):])
    result["process_wall_s"] = round(time.time() - start, 1)
    return result


def table(rows, config, peaks):
    unit = "clips/s" if config["rank"] == 3 else "frames/s"
    flops = next((r["flops_per_step"] for r in rows if r.get("flops_per_step")), None)
    lines = [f"| implementation | dtype | s/step | {unit} | peak memory (GiB) | MFU |", "|---|---|---:|---:|---:|---:|"]
    for r in rows:
        if "median_s" not in r:
            lines.append(f"| {r['impl']} | {r['dtype']} | {r.get('error', 'skipped')[:100]} | | | |")
            continue
        peak = peaks[DTYPES.index(r["dtype"])] if peaks else None
        mfu = f"{100 * flops / r['median_s'] / peak:.1f}%" if flops and peak else "n/a"
        memory = f"{r['peak_memory_bytes'] / 2**30:.2f}" if r.get("peak_memory_bytes") else "n/a"
        lines.append(f"| {r['impl']} | {r['dtype']} | {r['median_s']:.4f} | {config['batch'] / r['median_s']:.2f} "
                     f"| {memory} | {mfu} |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="benchmarks/gpu-results", help="folder for gpu.json and gpu.md")
    p.add_argument("--tiny", action="store_true", help="CPU smoke run at a tiny size (what the test runs)")
    p.add_argument("--budget-s", type=float, default=450.0, help="stop starting new rows after this many seconds")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--implementations", default=",".join(IMPLEMENTATIONS))
    p.add_argument("--dtypes", default=",".join(DTYPES))
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        sys.stdout.write(RESULT_MARKER + json.dumps(worker(json.loads(args.worker))) + "\n")
        return 0
    device_name = None if args.tiny else _device_name()
    device = "cuda" if device_name else "cpu"
    peaks = next((v for k, v in PEAKS.items() if device_name and k in device_name), None)
    configs = {"tiny": dict(train_step.CONFIGS["tiny"])} if args.tiny else {
        "3d-paper": train_step.CONFIGS["3d-paper"], "2d-reference": train_step.CONFIGS["2d-reference"]}
    started = time.time()
    report = {"device": device_name or "CPU (no GPU found)", "peaks_flops": peaks, "results": {}}
    markdown = [f"# GPU benchmark: {report['device']}", ""]
    for name, config in configs.items():
        rows = []
        for dtype in args.dtypes.split(","):
            for impl in args.implementations.split(","):
                left = args.budget_s - (time.time() - started)
                spec = dict(config=config, impl=impl, dtype=dtype, steps=args.steps, warmup=args.warmup,
                            device=device)
                if left < 20:
                    rows.append({"impl": impl, "dtype": dtype, "error": "skipped: time budget spent"})
                    continue
                rows.append(run_one(spec, timeout=left))
                print(f"[gpu] {name} {impl} {dtype}: "
                      f"{rows[-1].get('median_s', rows[-1].get('error'))}", file=sys.stderr, flush=True)
        report["results"][name] = {"config": config, "rows": rows}
        markdown += [f"## {name}: batch " + "x".join(str(s) for s in (config["batch"],) + train_step.sample_shape(
            config)), "", table(rows, config, peaks), ""]
    report["seconds"] = round(time.time() - started, 1)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "gpu.json"), "w") as handle:
        json.dump(report, handle, indent=2)
    with open(os.path.join(args.out, "gpu.md"), "w") as handle:
        handle.write("\n".join(markdown) + f"\nTotal {report['seconds']} s.\n")
    print("\n".join(markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())

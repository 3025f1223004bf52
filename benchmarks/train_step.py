"""CycleGAN train-step race: every Keras backend against native PyTorch, interleaved.

    python benchmarks/train_step.py --config 3d-default --rounds 2 --steps 10 --json 3d.json
    python benchmarks/train_step.py --config 2d-b8
    python benchmarks/train_step.py --config recipe:zoo/mnist-colorize-3d/recipe.toml

Each implementation runs in its own process (a process holds one Keras
backend), round after round in the same order, so slow phases of a shared
machine hit every row alike:

* ``pytorch``: native PyTorch (`native_torch.py`), eager, channels-first, run
  the way a careful PyTorch user would: intra-op threads = the cores this
  process may use, and ``OMP_WAIT_POLICY=PASSIVE`` (spinning OpenMP threads
  make shared-machine step times swing by 10x);
* ``pytorch-compile``: the same under ``torch.compile`` (where it works);
* ``tensorflow``, ``jax``, ``torch``: ``keras_v2v.cyclegan_{3d,2d}`` through
  ``model.fit`` (a callback times each step; overriding
  ``on_train_batch_end`` makes Keras wait for the step's result);
* ``parity`` (not timed): the Keras model on the torch backend and the native
  one, same weights in, same outputs, losses and gradients out.

Every row reports the median step time over all its timed steps of all rounds
with the min-max, and the speed-up against native PyTorch eager (native step
time / row step time: above 1 means faster than native). The parent samples
the 1-minute load average every 2 s and reports its mean and max.
"""

import argparse
import importlib.metadata
import importlib.util
import json
import math
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
KERAS_BACKENDS = ("tensorflow", "jax", "torch")
NATIVE = ("pytorch", "pytorch-compile")

# The library's own defaults (cyclegan_3d / cyclegan_2d) and the reference 2D configuration.
CONFIGS = {
    "3d-default": dict(rank=3, batch=1, depth=8, size=64, channels=3, filters=32, blocks=6, disc_filters=32,
                       disc_layers=3, temporal_stride=True, stem=7),
    "2d-reference": dict(rank=2, batch=1, size=256, channels=3, filters=64, blocks=9, disc_filters=64,
                         disc_layers=3),
    "2d-b8": dict(rank=2, batch=8, size=64, channels=3, filters=32, blocks=6, disc_filters=32, disc_layers=3),
    # The paper's configurations (for the GPU script).
    "3d-paper": dict(rank=3, batch=1, depth=8, size=(108, 192), channels=3, filters=64, blocks=9,
                     disc_filters=64, disc_layers=3, temporal_stride=True, stem=7),
    "tiny": dict(rank=3, batch=1, depth=8, size=16, channels=1, filters=2, blocks=1, disc_filters=2,
                 disc_layers=2, temporal_stride=True, stem=7),
}


def recipe_config(path):
    """A benchmark config with a zoo recipe's model and clip size."""
    sys.path.insert(0, ROOT)
    from keras_v2v.training import recipes

    recipe = recipes.load_recipe(path)
    m, d = recipe.model, recipe.dataset
    size = d.get("size") or (d.get("height"), d.get("width"))
    channels = 1 if d["generator"] in ("volumetric_mnist", "head_phantoms") else 3
    if m["init_from"]:
        raise SystemExit(f"{path}: a model started from the preset {m['init_from']!r} (inflated kernels and "
                         "per-frame norms) has no native PyTorch twin here; time it as `keras-v2v train` runs it "
                         "with benchmarks/recipe_train.py")
    filters = m["filters"]
    if filters == "match-3d":
        from keras_v2v.training import pipeline

        # The width the recipe resolves to (its generator's parameter count matched to the 3D one's).
        model = pipeline.build_model(recipe, pipeline.load_data(recipe))
        filters = model.generator_a2b.get_layer("stem_conv").filters
        m = dict(m, discriminator_filters=filters)
    config = dict(rank=3 if recipe.is_3d else 2, batch=1 if recipe.is_3d else m["clip_length"],
                  size=size, channels=channels, filters=filters, blocks=m["num_blocks"],
                  disc_filters=m["discriminator_filters"], disc_layers=m["discriminator_layers"])
    if recipe.is_3d:
        config.update(depth=m["clip_length"], temporal_stride=m["temporal_stride"], stem=m["stem_kernel_size"])
    return config


def resolve_config(name):
    if name.startswith("recipe:"):
        return recipe_config(name[len("recipe:"):])
    if name not in CONFIGS:
        raise SystemExit(f"unknown --config {name!r}; choose from {', '.join(CONFIGS)} or recipe:PATH")
    return dict(CONFIGS[name])


def frame_size(config):
    size = config["size"]
    return (size, size) if isinstance(size, int) else tuple(size)


def sample_shape(config):
    """One sample, channels-last (what the Keras model takes)."""
    spatial = frame_size(config) if config["rank"] == 2 else (config["depth"],) + frame_size(config)
    return spatial + (config["channels"],)


def make_data(config, count, seed):
    import numpy as np

    rng = np.random.default_rng(seed)
    shape = (count * config["batch"],) + sample_shape(config)
    return rng.uniform(-1, 1, shape).astype("float32"), rng.uniform(-1, 1, shape).astype("float32")


def usable_cores():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


# ----------------------------------------------------------------- workers
def worker_native(config, args, compiled):
    import numpy as np
    import torch

    import native_torch

    torch.set_num_threads(args.threads)
    nets = native_torch.build_cyclegan(config, args.seed)
    if args.device != "cpu":
        nets = {k: v.to(args.device) for k, v in nets.items()}
    trainer = native_torch.Trainer(nets, compile=compiled)
    a_np, b_np = make_data(config, args.warmup + args.steps, args.seed)
    a_all = native_torch.to_channels_first(torch.from_numpy(a_np), config["rank"]).to(args.device)
    b_all = native_torch.to_channels_first(torch.from_numpy(b_np), config["rank"]).to(args.device)
    times = []
    for step in range(args.warmup + args.steps):
        lo, hi = step * config["batch"], (step + 1) * config["batch"]
        start = time.perf_counter()
        g_loss, d_loss = trainer.step(a_all[lo:hi], b_all[lo:hi])
        losses = (g_loss.item(), d_loss.item())  # waits for the step
        times.append(time.perf_counter() - start)
    assert all(np.isfinite(losses)), losses
    return {"jit": "torch.compile" if compiled else "eager",
            "threads": {"torch_intra_op": torch.get_num_threads(),
                        "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY")},
            "params": {k: native_torch.param_count(v) for k, v in nets.items()}, "step_times_s": times}


def build_keras_model(config, seed, jit_compile="auto"):
    import keras

    import keras_v2v

    keras.utils.set_random_seed(seed)
    common = dict(filters=config["filters"], num_blocks=config["blocks"], discriminator_filters=config["disc_filters"],
                  discriminator_layers=config["disc_layers"], upsampling="resize")
    if config["rank"] == 3:
        model = keras_v2v.cyclegan_3d(input_shape=sample_shape(config), temporal_stride=config["temporal_stride"],
                                      stem_kernel_size=config["stem"], **common)
    else:
        model = keras_v2v.cyclegan_2d(input_shape=sample_shape(config), **common)
    model.compile(generator_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                  discriminator_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                  gan_loss="lsgan", lambda_cycle=10.0, lambda_identity=0.5, lambda_temporal=0.0, pool_size=0,
                  jit_compile=jit_compile)
    return model


def worker_keras(config, args, backend):
    if os.environ.get("KERAS_BACKEND") != backend:
        raise SystemExit(f"worker {backend} started with KERAS_BACKEND={os.environ.get('KERAS_BACKEND')}")
    threads = {}
    if backend == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        threads["tf_intra_op"] = tf.config.threading.get_intra_op_parallelism_threads()
    elif backend == "torch":
        import torch

        torch.set_num_threads(args.threads)
        threads.update(torch_intra_op=torch.get_num_threads(), OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY"))
    import keras
    import numpy as np

    model = build_keras_model(config, args.seed, jit_compile=args.jit if args.jit != "auto" else "auto")
    a, b = make_data(config, args.warmup + args.steps, args.seed)

    class StepTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times, self.logs = [], {}

        def on_train_batch_begin(self, batch, logs=None):
            self._start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            self.times.append(time.perf_counter() - self._start)
            self.logs = dict(logs or {})

    timer = StepTimer()
    model.fit(x=(a, b), batch_size=config["batch"], epochs=1, shuffle=False, verbose=0, callbacks=[timer])
    losses = [float(timer.logs[k]) for k in ("g_loss", "d_loss")]
    assert all(np.isfinite(losses)), losses
    jit = {"tensorflow": "tf.function" + (" + XLA" if model.jit_compile else ""),
           "jax": "jax.jit" if model.jit_compile else "eager",
           "torch": "torch.compile" if model.jit_compile else "eager"}[backend]
    return {"jit": jit, "threads": threads, "step_times_s": timer.times,
            "params": {net.name: net.count_params() for net in model.generators + model.discriminators}}


def worker_parity(config, args):
    """Same weights in, same outputs, losses and gradients out (Keras on torch vs native)."""
    import numpy as np
    import torch
    from keras import ops

    import native_torch

    torch.set_num_threads(args.threads)
    model = build_keras_model(config, args.seed)
    nets = native_torch.build_cyclegan(config, args.seed)
    counts = {k: native_torch.param_count(v) for k, v in nets.items()}
    keras_counts = {net.name: net.count_params() for net in model.generators + model.discriminators}
    assert keras_counts == counts, f"parameter counts differ: keras {keras_counts} vs native {counts}"
    pairs = []
    for name, net in nets.items():
        pairs += native_torch.copy_keras_weights(getattr(model, name), net, config["rank"])
    rank = config["rank"]
    a_np, b_np = make_data(config, 1, args.seed)
    a_k, b_k = ops.convert_to_tensor(a_np), ops.convert_to_tensor(b_np)
    a_t, b_t = (native_torch.to_channels_first(torch.from_numpy(x), rank) for x in (a_np, b_np))

    outputs = {}
    with torch.no_grad():
        for name, net in nets.items():
            keras_out = getattr(model, name)(a_k, training=True).detach().cpu()
            native_out = net(a_t).permute(0, *range(2, rank + 2), 1)
            assert tuple(keras_out.shape) == tuple(native_out.shape), (name, keras_out.shape, native_out.shape)
            outputs[name] = float((keras_out - native_out).abs().max())

    g_total, _, fake_a, fake_b = model.generator_objective(a_k, b_k)
    k_g = torch.autograd.grad(g_total, [v.value for v in model.generator_variables])
    fake_a, fake_b = model.pooled_fakes(fake_a, fake_b)
    d_total, _ = model.discriminator_objective(a_k, b_k, fake_a, fake_b)
    k_d = torch.autograd.grad(d_total, [v.value for v in model.discriminator_variables])
    t_g_loss, t_fake_a, t_fake_b = native_torch.generator_loss(nets, a_t, b_t)
    t_d_loss = native_torch.discriminator_loss(nets, a_t, b_t, t_fake_a, t_fake_b)
    param_of = {id(v): p for v, p in pairs}
    t_g = torch.autograd.grad(t_g_loss, [param_of[id(v)] for v in model.generator_variables])
    t_d = torch.autograd.grad(t_d_loss, [param_of[id(v)] for v in model.discriminator_variables])

    def grad_error(keras_grads, native_grads):
        # Relative error of all gradients together: biases before an instance norm have
        # zero true gradient (rounding noise on both sides).
        diff = total = 0.0
        for kg, tg in zip(keras_grads, native_grads, strict=True):
            kg = kg.detach().cpu()
            if kg.ndim == rank + 2:
                kg = kg.permute(rank + 1, rank, *range(rank))
            diff += float((kg - tg).square().sum())
            total += float(tg.square().sum())
        return math.sqrt(diff / total)

    report = {"params": counts, "max_abs_output_diff": outputs,
              "losses": {"keras_g": float(g_total.detach()), "native_g": float(t_g_loss.detach()),
                         "keras_d": float(d_total.detach()), "native_d": float(t_d_loss.detach())},
              "max_rel_grad_error": {"generators": grad_error(k_g, t_g), "discriminators": grad_error(k_d, t_d)}}
    assert max(outputs.values()) < 1e-3, outputs
    assert np.isclose(report["losses"]["keras_g"], report["losses"]["native_g"], rtol=1e-4), report["losses"]
    assert np.isclose(report["losses"]["keras_d"], report["losses"]["native_d"], rtol=1e-4), report["losses"]
    assert max(report["max_rel_grad_error"].values()) < 1e-2, report["max_rel_grad_error"]
    return report


def run_worker(args):
    sys.path[:0] = [ROOT, HERE]
    config = json.loads(args.config_json)
    if args.worker in NATIVE:
        result = worker_native(config, args, compiled=args.worker == "pytorch-compile")
    elif args.worker == "parity":
        result = worker_parity(config, args)
    else:
        result = worker_keras(config, args, args.worker)
    sys.stdout.write(RESULT_MARKER + json.dumps(result) + "\n")
    sys.stdout.flush()


# ------------------------------------------------------------------ parent
class LoadSampler(threading.Thread):
    """The 1-minute load average every `period` seconds while the benchmark runs."""

    def __init__(self, period=2.0):
        super().__init__(daemon=True)
        self.period, self.samples, self._stop_event = period, [], threading.Event()

    def run(self):
        while not self._stop_event.is_set():
            try:
                with open("/proc/loadavg") as handle:
                    self.samples.append(float(handle.read().split()[0]))
            except OSError:
                return
            self._stop_event.wait(self.period)

    def stop(self):
        self._stop_event.set()
        return {"mean": round(statistics.fmean(self.samples), 2) if self.samples else None,
                "max": max(self.samples) if self.samples else None, "samples": len(self.samples)}


def package_version(*names):
    for name in names:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def machine_info():
    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": cpu, "cpu_count": os.cpu_count(), "cores_usable": usable_cores(),
            "python": platform.python_version(),
            "versions": {k: package_version(*v) for k, v in {
                "keras": ("keras",), "torch": ("torch",), "tensorflow": ("tensorflow", "tensorflow-cpu"),
                "jax": ("jax",), "numpy": ("numpy",)}.items()}}


def spawn(args, config, name):
    env = dict(os.environ)
    env["KERAS_BACKEND"] = "torch" if name in NATIVE + ("parity",) else name
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    env["PYTHONPATH"] = os.pathsep.join([ROOT, HERE, env.get("PYTHONPATH", "")])
    argv = [sys.executable, os.path.abspath(__file__), "--worker", name, "--config-json", json.dumps(config),
            "--steps", str(args.steps), "--warmup", str(args.warmup), "--threads", str(args.threads),
            "--seed", str(args.seed), "--device", args.device, "--jit", args.jit]
    print(f"[benchmark] {name} ...", file=sys.stderr, flush=True)
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=args.timeout)
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT_MARKER)]
    if proc.returncode or not lines:
        tail = " | ".join((proc.stdout + proc.stderr).strip().splitlines()[-6:])
        print(f"[benchmark] {name} failed (exit {proc.returncode}): {tail}", file=sys.stderr, flush=True)
        return {"name": name, "error": f"exit {proc.returncode}: {tail[-600:]}"}
    result = json.loads(lines[-1][len(RESULT_MARKER):])
    result.update(name=name, process_wall_s=round(time.perf_counter() - start, 1))
    if "step_times_s" in result:
        timed = result["step_times_s"][args.warmup:]
        print(f"[benchmark] {name}: median {1e3 * statistics.median(timed):.0f} ms/step", file=sys.stderr, flush=True)
    return result


def summarise(name, rounds, config, warmup):
    ok = [r for r in rounds if "step_times_s" in r]
    if not ok:
        return {"name": name, "error": rounds[-1].get("error", "failed")}
    timed = [t for r in ok for t in r["step_times_s"][warmup:]]
    median = statistics.median(timed)
    return {"name": name, "jit": ok[0]["jit"], "threads": ok[0]["threads"], "params": ok[0]["params"],
            "median_s": median, "min_s": min(timed), "max_s": max(timed),
            "round_medians_s": [statistics.median(r["step_times_s"][warmup:]) for r in ok],
            "first_step_s": [r["step_times_s"][0] for r in ok], "samples_per_s": config["batch"] / median,
            "steps_timed": len(timed)}


def markdown_table(rows, config):
    unit = "clips/s" if config["rank"] == 3 else "frames/s"
    native = next((r for r in rows if r["name"] == "pytorch" and "median_s" in r), None)
    lines = [f"| implementation | compiled as | s/step median (min-max) | {unit} | speed-up vs native eager "
             "| first step (s) |", "|---|---|---|---:|---:|---|"]
    for r in rows:
        if "median_s" not in r:
            lines.append(f"| {r['name']} | - | failed: {r['error'][:120]} | | | |")
            continue
        speed = f"{native['median_s'] / r['median_s']:.2f}x" if native else "n/a"
        first = ", ".join(f"{t:.1f}" for t in r["first_step_s"])
        lines.append(f"| {r['name']} | {r['jit']} | {r['median_s']:.3f} ({r['min_s']:.3f}-{r['max_s']:.3f}) "
                     f"| {r['samples_per_s']:.2f} | {speed} | {first} |")
    return "\n".join(lines)


def default_workers():
    names = []
    if importlib.util.find_spec("torch"):
        names += ["pytorch"]
    return names + [b for b in KERAS_BACKENDS if importlib.util.find_spec(b) is not None]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default="3d-default",
                   help=f"one of {', '.join(CONFIGS)}, or recipe:PATH (a zoo recipe's model and clip size)")
    p.add_argument("--workers", default=None,
                   help="comma-separated subset of pytorch,pytorch-compile,tensorflow,jax,torch "
                        "(default: pytorch and every installed Keras backend)")
    p.add_argument("--rounds", type=int, default=2, help="round-robin rounds (each worker once per round)")
    p.add_argument("--steps", type=int, default=10, help="timed steps per worker and round")
    p.add_argument("--warmup", type=int, default=2, help="untimed first steps (tracing, compilation)")
    p.add_argument("--threads", type=int, default=usable_cores(), help="intra-op threads (default: usable cores)")
    p.add_argument("--device", default="cpu", help="native PyTorch device (cpu or cuda)")
    p.add_argument("--jit", default="auto", choices=("auto", "true", "false"),
                   help="Keras model.compile(jit_compile=...) (auto: the backend's default)")
    p.add_argument("--no-parity", action="store_true", help="skip the untimed equivalence check")
    p.add_argument("--timeout", type=float, default=None, help="seconds per worker")
    p.add_argument("--json", default=None, metavar="OUT", help="write every number to OUT")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--config-json", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.jit = {"auto": "auto", "true": True, "false": False}.get(args.jit, args.jit)
    if args.steps < 1 or args.warmup < 1 or args.rounds < 1:
        p.error("--steps, --warmup and --rounds must be >= 1 (the first step compiles)")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        run_worker(args)
        return 0
    config = resolve_config(args.config)
    workers = args.workers.split(",") if args.workers else default_workers()
    unknown = [w for w in workers if w not in NATIVE + KERAS_BACKENDS]
    if unknown:
        raise SystemExit(f"unknown workers {unknown}; choose from {', '.join(NATIVE + KERAS_BACKENDS)}")
    sampler = LoadSampler()
    sampler.start()
    parity = None if args.no_parity else spawn(args, config, "parity")
    rounds = {name: [] for name in workers}
    for _ in range(args.rounds):
        for name in workers:
            rounds[name].append(spawn(args, config, name))
    load = sampler.stop()
    rows = [summarise(name, rounds[name], config, args.warmup) for name in workers]
    reference = next((r["params"] for r in rows if "params" in r), None)
    for r in rows:
        if "params" in r and r["params"] != reference:
            raise AssertionError(f"{r['name']} parameter counts {r['params']} differ from {reference}")
    info = machine_info()
    table = markdown_table(rows, config)
    shape = "x".join(str(s) for s in (config["batch"],) + sample_shape(config))
    print(f"\n### CycleGAN train step, {args.config}: batch {shape} (channels-last)\n")
    print(f"Machine: {info['cpu']}, {info['cores_usable']} usable cores; load average (1 min) mean "
          f"{load['mean']}, max {load['max']}; " + ", ".join(f"{k} {v}" for k, v in info["versions"].items() if v))
    print(f"{args.rounds} interleaved rounds x {args.steps} timed steps after {args.warmup} warm-up steps; "
          f"{args.threads} threads; OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'PASSIVE')} for torch.")
    if reference:
        print("Parameters: " + ", ".join(f"{k} {v:,}" for k, v in reference.items()))
    if parity and "max_abs_output_diff" in parity:
        print("Parity (Keras on torch vs native, same weights): max |output diff| "
              f"{max(parity['max_abs_output_diff'].values()):.1e}, max relative gradient error "
              f"{max(parity['max_rel_grad_error'].values()):.1e}")
    elif parity:
        print(f"Parity check failed: {parity.get('error')}")
    print()
    print(table)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"config_name": args.config, "config": config, "rounds": rounds, "summary": rows,
                       "parity": parity, "machine": info, "load_average": load, "table": table}, handle, indent=2)
    return 0 if all("median_s" in r for r in rows) and (parity is None or "error" not in parity) else 1


if __name__ == "__main__":
    sys.exit(main())

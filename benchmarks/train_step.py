"""CycleGAN train-step benchmark: every installed Keras backend vs. plain PyTorch.

    python benchmarks/train_step.py --rank 3 --batch 1 --depth 8 --size 64 \
        --filters 16 --blocks 3 --steps 10 --warmup 2

The parent process runs one subprocess per implementation (a Keras backend
is fixed per process), each as `python benchmarks/train_step.py --worker NAME
...`, and reads one JSON result from its stdout:

* ``pytorch``: a plain PyTorch (channels-first, eager) implementation of the
  same networks and the same training step, written below without Keras.
  It is the reference every ratio is taken against.
* ``tensorflow``, ``jax``, ``torch``: `keras_v2v.cyclegan_{2d,3d}` compiled
  with Adam(2e-4, beta_1=0.5) for both optimizers and ``pool_size=0``, timed
  through ``model.fit`` on a fixed in-memory numpy dataset. A callback stamps
  ``on_train_batch_begin``/``on_train_batch_end``; overriding
  ``on_train_batch_end`` makes Keras hand the callback host (Python float)
  logs, so each stamp waits for that step's result on every backend
  (tf.function, jax.jit, eager torch), and each step includes Keras' own
  per-step work (fetching the batch, metric updates).
* ``parity`` (not timed, skip with ``--no-parity``): builds the Keras model
  on the torch backend and the plain networks, asserts equal parameter
  counts per network, copies the Keras weights into the plain networks and
  checks that network outputs, both losses and all gradients match.

The parent also asserts that every worker's per-network parameter counts
equal the plain PyTorch ones, prints a markdown table and (``--json``)
writes everything, raw step times included, to a file.

Step times: the first ``--warmup`` steps (tracing/compilation included) are
dropped; median and p90 are over the next ``--steps``. Throughput is
``batch / median step``: clips/s for ``--rank 3``, frames/s for ``--rank 2``.
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
import time
from collections import OrderedDict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULT_MARKER = "@@BENCHMARK_RESULT@@ "
KERAS_BACKENDS = ("tensorflow", "jax", "torch")
LAMBDA_CYCLE = 10.0
LAMBDA_IDENTITY = 0.5  # relative to LAMBDA_CYCLE, as in keras_v2v / CycleGAN: x5
LEARNING_RATE, BETA_1 = 2e-4, 0.5
KERAS_ADAM_EPSILON = 1e-7


# --------------------------------------------------------------------- CLI
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rank", type=int, choices=(2, 3), default=3,
                   help="3: Conv3D model on clips; 2: framewise model on frames")
    p.add_argument("--batch", type=int, default=1, help="clips (rank 3) or frames (rank 2) per step")
    p.add_argument("--depth", type=int, default=8, help="frames per clip (rank 3 only)")
    p.add_argument("--size", type=int, default=64, help="height = width")
    p.add_argument("--channels", type=int, default=3)
    p.add_argument("--filters", type=int, default=16, help="generator stem width")
    p.add_argument("--blocks", type=int, default=3, help="generator residual blocks")
    p.add_argument("--disc-filters", type=int, default=16)
    p.add_argument("--disc-layers", type=int, default=3)
    p.add_argument("--steps", type=int, default=10, help="timed steps after the warm-up")
    p.add_argument("--warmup", type=int, default=2, help="untimed first steps (compilation)")
    p.add_argument("--backends", default=None,
                   help="comma-separated Keras backends (default: every installed one "
                        "of tensorflow,jax,torch)")
    p.add_argument("--threads", type=int, default=os.cpu_count(),
                   help="intra-op threads for torch and tensorflow (default: os.cpu_count())")
    p.add_argument("--no-baseline", action="store_true", help="skip the plain PyTorch run")
    p.add_argument("--no-parity", action="store_true",
                   help="skip the (untimed) Keras-vs-plain-PyTorch equivalence check")
    p.add_argument("--rounds", type=int, default=1,
                   help="run every implementation this many times, round-robin, and keep "
                        "each one's round with the lowest median (damps noise from other "
                        "processes on a shared machine)")
    p.add_argument("--timeout", type=float, default=None, help="seconds per worker")
    p.add_argument("--json", default=None, metavar="OUT", help="write all results to OUT")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.steps < 1 or args.warmup < 1:
        p.error("--steps and --warmup must be >= 1 (the first step compiles)")
    return args


def config_of(args):
    keys = ("rank", "batch", "depth", "size", "channels", "filters", "blocks",
            "disc_filters", "disc_layers", "steps", "warmup", "threads", "seed")
    config = {k: getattr(args, k) for k in keys}
    if args.rank == 2:
        config.pop("depth")
    return config


def sample_shape(args):
    """One sample, channels-last (what the Keras model takes)."""
    spatial = (args.size, args.size) if args.rank == 2 else (args.depth, args.size, args.size)
    return spatial + (args.channels,)


def make_data(args):
    """Fixed float32 data in [-1, 1]: (warmup + steps) distinct batches per domain."""
    import numpy as np

    rng = np.random.default_rng(args.seed)
    n = (args.warmup + args.steps) * args.batch
    shape = (n,) + sample_shape(args)
    a = rng.uniform(-1.0, 1.0, shape).astype("float32")
    b = rng.uniform(-1.0, 1.0, shape).astype("float32")
    return a, b


def summarize(step_times, args):
    timed = step_times[args.warmup:]
    ordered = sorted(timed)
    median = statistics.median(timed)
    p90 = ordered[min(len(ordered) - 1, math.ceil(0.9 * len(ordered)) - 1)]
    return {
        "median_s": median,
        "p90_s": p90,
        "mean_s": statistics.fmean(timed),
        "first_step_s": step_times[0],
        "samples_per_s": args.batch / median,
        "step_times_s": step_times,
    }


# ------------------------------------------------------ plain PyTorch model
def _torch_modules(rank):
    from torch import nn

    if rank == 2:
        return nn.Conv2d, nn.InstanceNorm2d, nn.ReflectionPad2d
    return nn.Conv3d, nn.InstanceNorm3d, nn.ReflectionPad3d


def build_torch_generator(rank, channels, filters, num_blocks, stem=7, body=3):
    """The keras_v2v ResNet generator ('resize' upsampling), channels-first.

    Module names equal the Keras layer names, so weights can be mapped.
    """
    from torch import nn

    Conv, Norm, Pad = _torch_modules(rank)
    strides = (2,) * rank  # temporal_stride=True in 3D

    def norm(width):
        return Norm(width, eps=1e-5, affine=True)

    class ResidualBlock(nn.Module):
        def __init__(self, width):
            super().__init__()
            self.pad1, self.conv1 = Pad(body // 2), Conv(width, width, body)
            self.norm1 = norm(width)
            self.pad2, self.conv2 = Pad(body // 2), Conv(width, width, body)
            self.norm2 = norm(width)

        def forward(self, x):
            y = self.norm1(self.conv1(self.pad1(x))).relu()
            return x + self.norm2(self.conv2(self.pad2(y)))

    layers = OrderedDict()
    layers["stem_pad"] = Pad(stem // 2)
    layers["stem_conv"] = Conv(channels, filters, stem)
    layers["stem_norm"] = norm(filters)
    layers["stem_relu"] = nn.ReLU()
    width = filters
    for i in range(2):
        layers[f"down{i}_pad"] = Pad(body // 2)
        layers[f"down{i}_conv"] = Conv(width, width * 2, body, stride=strides)
        width *= 2
        layers[f"down{i}_norm"] = norm(width)
        layers[f"down{i}_relu"] = nn.ReLU()
    for i in range(num_blocks):
        layers[f"block{i}"] = ResidualBlock(width)
    for i in range(2):
        layers[f"up{i}_resize"] = nn.Upsample(scale_factor=strides, mode="nearest")
        layers[f"up{i}_pad"] = Pad(body // 2)
        layers[f"up{i}_conv"] = Conv(width, width // 2, body)
        width //= 2
        layers[f"up{i}_norm"] = norm(width)
        layers[f"up{i}_relu"] = nn.ReLU()
    layers["head_pad"] = Pad(stem // 2)
    layers["head_conv"] = Conv(width, channels, stem)
    layers["head_tanh"] = nn.Tanh()
    return nn.Sequential(layers)


def build_torch_discriminator(rank, channels, filters, num_layers):
    """The keras_v2v PatchGAN: zero padding 1, 4x4 (2D) / 3x4x4 (3D) kernels."""
    from torch import nn

    Conv, Norm, _ = _torch_modules(rank)
    kernel = (4, 4) if rank == 2 else (3, 4, 4)
    layers = OrderedDict()
    width_in, width = channels, filters
    for i in range(num_layers + 1):
        stride = 2 if i < num_layers else 1
        layers[f"layer{i}_conv"] = Conv(width_in, width, kernel, stride=stride, padding=1)
        if i > 0:
            layers[f"layer{i}_norm"] = Norm(width, eps=1e-5, affine=True)
        layers[f"layer{i}_lrelu"] = nn.LeakyReLU(0.2)
        width_in, width = width, min(width * 2, filters * 8)
    layers["logits"] = Conv(width_in, 1, kernel, padding=1)
    return nn.Sequential(layers)


def build_torch_cyclegan(args):
    import torch

    torch.manual_seed(args.seed)
    if args.rank == 3 and (args.depth % 4 or args.depth < 8):
        raise SystemExit("--depth must be a multiple of 4 and >= 8 "
                         "(the plain model has no pad-to-valid)")
    if args.size % 4 or args.size < 8:
        raise SystemExit("--size must be a multiple of 4 and >= 8 "
                         "(the plain model has no pad-to-valid)")
    gen = {"rank": args.rank, "channels": args.channels, "filters": args.filters, "num_blocks": args.blocks}
    disc = {"rank": args.rank, "channels": args.channels, "filters": args.disc_filters,
                "num_layers": args.disc_layers}
    return {
        "generator_a2b": build_torch_generator(**gen),
        "generator_b2a": build_torch_generator(**gen),
        "discriminator_a": build_torch_discriminator(**disc),
        "discriminator_b": build_torch_discriminator(**disc),
    }


def torch_param_count(module):
    return sum(p.numel() for p in module.parameters())


def torch_generator_loss(nets, a, b):
    """LSGAN adversarial + 10 x L1 cycle + 5 x L1 identity (as keras_v2v)."""
    g_ab, g_ba = nets["generator_a2b"], nets["generator_b2a"]
    d_a, d_b = nets["discriminator_a"], nets["discriminator_b"]
    fake_b, fake_a = g_ab(a), g_ba(b)
    cycle = (g_ba(fake_b) - a).abs().mean() + (g_ab(fake_a) - b).abs().mean()
    adv = (d_b(fake_b) - 1).square().mean() + (d_a(fake_a) - 1).square().mean()
    identity = (g_ab(b) - b).abs().mean() + (g_ba(a) - a).abs().mean()
    total = adv + LAMBDA_CYCLE * cycle + LAMBDA_CYCLE * LAMBDA_IDENTITY * identity
    return total, fake_a, fake_b


def torch_discriminator_loss(nets, a, b, fake_a, fake_b):
    """Half the LSGAN real + fake terms per discriminator, on detached fakes."""
    d_a, d_b = nets["discriminator_a"], nets["discriminator_b"]
    fake_a, fake_b = fake_a.detach(), fake_b.detach()
    loss_a = 0.5 * ((d_a(a) - 1).square().mean() + d_a(fake_a).square().mean())
    loss_b = 0.5 * ((d_b(b) - 1).square().mean() + d_b(fake_b).square().mean())
    return loss_a + loss_b


def torch_params(nets, prefix):
    return [p for name, net in nets.items() if name.startswith(prefix) for p in net.parameters()]


def torch_train_step(nets, g_params, d_params, opt_g, opt_d, a, b):
    """Both gradients at the same weights, then both Adam steps."""
    import torch

    g_loss, fake_a, fake_b = torch_generator_loss(nets, a, b)
    g_grads = torch.autograd.grad(g_loss, g_params)
    d_loss = torch_discriminator_loss(nets, a, b, fake_a, fake_b)
    d_grads = torch.autograd.grad(d_loss, d_params)
    for params, grads in ((g_params, g_grads), (d_params, d_grads)):
        for p, g in zip(params, grads):
            p.grad = g
    opt_g.step()
    opt_d.step()
    return g_loss.detach(), d_loss.detach()


def to_channels_first(x, rank):
    return x.permute(0, rank + 1, *range(1, rank + 1)).contiguous()


# ---------------------------------------------------------------- workers
def set_torch_threads(n):
    import torch

    torch.set_num_threads(n)
    return {"torch_intra_op": torch.get_num_threads(),
            "torch_inter_op": torch.get_num_interop_threads()}


def worker_pytorch(args):
    import numpy as np
    import torch

    threads = set_torch_threads(args.threads)
    nets = build_torch_cyclegan(args)
    g_params, d_params = torch_params(nets, "generator"), torch_params(nets, "discriminator")
    adam = {"lr": LEARNING_RATE, "betas": (BETA_1, 0.999), "eps": KERAS_ADAM_EPSILON}
    opt_g, opt_d = torch.optim.Adam(g_params, **adam), torch.optim.Adam(d_params, **adam)
    a_np, b_np = make_data(args)
    a_all = to_channels_first(torch.from_numpy(a_np), args.rank)
    b_all = to_channels_first(torch.from_numpy(b_np), args.rank)
    times, losses = [], None
    for step in range(args.warmup + args.steps):
        start = time.perf_counter()
        lo, hi = step * args.batch, (step + 1) * args.batch
        g_loss, d_loss = torch_train_step(nets, g_params, d_params, opt_g, opt_d,
                                          a_all[lo:hi], b_all[lo:hi])
        losses = (g_loss.item(), d_loss.item())
        times.append(time.perf_counter() - start)
    assert all(np.isfinite(losses)), losses
    return {
        "name": "pytorch",
        "label": "plain PyTorch (channels-first)",
        "jit": "eager",
        "threads": threads,
        "params": {k: torch_param_count(v) for k, v in nets.items()},
        "final_losses": {"g_loss": losses[0], "d_loss": losses[1]},
        **summarize(times, args),
    }


def build_keras_model(args):
    import keras

    import keras_v2v

    keras.utils.set_random_seed(args.seed)
    common = {"filters": args.filters, "num_blocks": args.blocks,
                  "discriminator_filters": args.disc_filters,
                  "discriminator_layers": args.disc_layers, "upsampling": "resize"}
    if args.rank == 3:
        model = keras_v2v.cyclegan_3d(input_shape=sample_shape(args), temporal_stride=True,
                                      stem_kernel_size=7, **common)
    else:
        model = keras_v2v.cyclegan_2d(input_shape=sample_shape(args), **common)
    model.compile(
        generator_optimizer=keras.optimizers.Adam(LEARNING_RATE, beta_1=BETA_1),
        discriminator_optimizer=keras.optimizers.Adam(LEARNING_RATE, beta_1=BETA_1),
        gan_loss="lsgan", lambda_cycle=LAMBDA_CYCLE, lambda_identity=LAMBDA_IDENTITY,
        lambda_temporal=0.0, pool_size=0,
    )
    return model


def keras_param_counts(model):
    return {net.name: net.count_params() for net in model.generators + model.discriminators}


def worker_keras(args, backend):
    if os.environ.get("KERAS_BACKEND") != backend:
        raise SystemExit(f"worker {backend} started with "
                         f"KERAS_BACKEND={os.environ.get('KERAS_BACKEND')}")
    threads = {}
    if backend == "tensorflow":
        import tensorflow as tf

        try:  # must precede TensorFlow's runtime initialization
            tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        except RuntimeError as error:
            threads["warning"] = str(error)
        threads["tf_intra_op"] = tf.config.threading.get_intra_op_parallelism_threads()
        threads["tf_inter_op"] = tf.config.threading.get_inter_op_parallelism_threads() or "auto"
    elif backend == "torch":
        threads.update(set_torch_threads(args.threads))
    else:
        threads["jax"] = "XLA CPU default (all cores)"
    import keras
    import numpy as np

    model = build_keras_model(args)
    a, b = make_data(args)

    class StepTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times, self.logs = [], {}

        def on_train_batch_begin(self, batch, logs=None):
            self._start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            # Overriding this makes Keras dispatch it synchronously with
            # logs converted to Python floats: the step has finished.
            self.times.append(time.perf_counter() - self._start)
            self.logs = dict(logs or {})

    timer = StepTimer()
    model.fit(x=(a, b), batch_size=args.batch, epochs=1, shuffle=False, verbose=0,
              callbacks=[timer])
    expected = args.warmup + args.steps
    if len(timer.times) != expected:
        raise SystemExit(f"timed {len(timer.times)} steps, expected {expected}")
    losses = {k: float(timer.logs[k]) for k in ("g_loss", "d_loss")}
    assert all(np.isfinite(list(losses.values()))), losses
    jit = {"tensorflow": "tf.function" + (" + XLA" if model.jit_compile else ""),
           "jax": "jax.jit" if model.jit_compile else "eager",
           "torch": "torch.compile" if model.jit_compile else "eager"}[backend]
    return {
        "name": backend,
        "label": f"Keras {backend} (fit, channels-last)",
        "jit": jit,
        "threads": threads,
        "params": keras_param_counts(model),
        "final_losses": losses,
        **summarize(timer.times, args),
    }


def copy_keras_to_torch(keras_net, torch_net, rank):
    """Copies weights by layer name; returns [(keras variable, torch parameter)]."""
    import numpy as np
    import torch

    from keras_v2v.models.layers import InstanceNormalization, ResidualBlock

    pairs = []
    modules = dict(torch_net.named_modules())

    def copy(layer, module):
        if isinstance(layer, ResidualBlock):
            for sub in ("conv1", "norm1", "conv2", "norm2"):
                copy(getattr(layer, sub), getattr(module, sub))
            return
        if isinstance(layer, InstanceNormalization):
            mapping = ((layer.gamma, module.weight), (layer.beta, module.bias))
        else:  # convolution
            mapping = ((layer.kernel, module.weight), (layer.bias, module.bias))
        for variable, param in mapping:
            value = torch.as_tensor(np.asarray(variable.numpy()))
            if value.ndim == rank + 2:  # (*kernel, in, out) -> (out, in, *kernel)
                value = value.permute(rank + 1, rank, *range(rank))
            assert value.shape == param.shape, (variable.path, value.shape, param.shape)
            with torch.no_grad():
                param.copy_(value)
            pairs.append((variable, param))

    for layer in keras_net.layers:
        if layer.weights:
            copy(layer, modules[layer.name])
    assert len(pairs) == len(keras_net.trainable_variables) == len(list(torch_net.parameters()))
    return pairs


def worker_parity(args):
    """Same weights in, same outputs, losses and gradients out (torch backend)."""
    import numpy as np
    import torch

    set_torch_threads(args.threads)
    from keras import ops

    model = build_keras_model(args)
    nets = build_torch_cyclegan(args)
    k_counts = keras_param_counts(model)
    t_counts = {k: torch_param_count(v) for k, v in nets.items()}
    assert k_counts == t_counts, f"parameter counts differ: keras {k_counts} vs torch {t_counts}"
    pairs = []
    for name, net in nets.items():
        pairs += copy_keras_to_torch(getattr(model, name), net, args.rank)

    rank = args.rank
    a_np, b_np = make_data(args)
    a_np, b_np = a_np[: args.batch], b_np[: args.batch]
    a_k, b_k = ops.convert_to_tensor(a_np), ops.convert_to_tensor(b_np)
    a_t, b_t = (to_channels_first(torch.from_numpy(x), rank) for x in (a_np, b_np))
    report = {"name": "parity", "params": t_counts}

    def channels_last(x):
        return x.permute(0, *range(2, rank + 2), 1)

    outputs = {}
    with torch.no_grad():
        for name, net in nets.items():
            keras_out = getattr(model, name)(a_k, training=True)
            torch_out = channels_last(net(a_t))
            assert tuple(keras_out.shape) == tuple(torch_out.shape), (
                name, keras_out.shape, torch_out.shape)
            outputs[name] = float((keras_out.detach().cpu() - torch_out).abs().max())
    report["max_abs_output_diff"] = outputs

    # Losses and gradients of one training step at identical weights.
    g_total, _, fake_a, fake_b = model.generator_objective(a_k, b_k)
    g_vars = model.generator_variables
    k_g_grads = torch.autograd.grad(g_total, [v.value for v in g_vars])
    fake_a, fake_b = model.pooled_fakes(fake_a, fake_b)
    d_total, _ = model.discriminator_objective(a_k, b_k, fake_a, fake_b)
    d_vars = model.discriminator_variables
    k_d_grads = torch.autograd.grad(d_total, [v.value for v in d_vars])

    t_g_loss, t_fake_a, t_fake_b = torch_generator_loss(nets, a_t, b_t)
    t_d_loss = torch_discriminator_loss(nets, a_t, b_t, t_fake_a, t_fake_b)
    param_of = {id(v): p for v, p in pairs}
    t_g_grads = torch.autograd.grad(t_g_loss, [param_of[id(v)] for v in g_vars])
    t_d_grads = torch.autograd.grad(t_d_loss, [param_of[id(v)] for v in d_vars])

    def grad_error(keras_grads, torch_grads):
        # Relative error of all gradients together: biases right before an
        # instance norm have zero true gradient (rounding noise on both sides),
        # so per-variable relative errors would be meaningless.
        diff = total = 0.0
        for keras_grad, tg in zip(keras_grads, torch_grads, strict=True):
            kg = keras_grad.detach().cpu()
            if kg.ndim == rank + 2:
                kg = kg.permute(rank + 1, rank, *range(rank))
            diff += float((kg - tg).square().sum())
            total += float(tg.square().sum())
        return math.sqrt(diff / total)

    report["losses"] = {
        "keras_g": float(g_total.detach()), "torch_g": float(t_g_loss.detach()),
        "keras_d": float(d_total.detach()), "torch_d": float(t_d_loss.detach()),
    }
    report["max_rel_grad_error"] = {
        "generators": grad_error(k_g_grads, t_g_grads),
        "discriminators": grad_error(k_d_grads, t_d_grads),
    }
    assert max(outputs.values()) < 1e-3, outputs
    assert np.isclose(report["losses"]["keras_g"], report["losses"]["torch_g"], rtol=1e-4)
    assert np.isclose(report["losses"]["keras_d"], report["losses"]["torch_d"], rtol=1e-4)
    assert max(report["max_rel_grad_error"].values()) < 1e-2, report["max_rel_grad_error"]
    return report


def run_worker(args):
    sys.path.insert(0, ROOT)
    if args.worker == "pytorch":
        result = worker_pytorch(args)
    elif args.worker == "parity":
        result = worker_parity(args)
    elif args.worker in KERAS_BACKENDS:
        result = worker_keras(args, args.worker)
    else:
        raise SystemExit(f"unknown worker {args.worker!r}")
    sys.stdout.write(RESULT_MARKER + json.dumps(result) + "\n")
    sys.stdout.flush()


# ----------------------------------------------------------------- parent
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
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "cpus_usable": affinity,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {
            "keras": package_version("keras"),
            "torch": package_version("torch"),
            "tensorflow": package_version("tensorflow", "tensorflow-cpu"),
            "jax": package_version("jax"),
            "jaxlib": package_version("jaxlib"),
            "numpy": package_version("numpy"),
        },
    }


def worker_argv(args, name):
    argv = [sys.executable, os.path.abspath(__file__), "--worker", name,
            "--rank", str(args.rank), "--batch", str(args.batch), "--depth", str(args.depth),
            "--size", str(args.size), "--channels", str(args.channels),
            "--filters", str(args.filters), "--blocks", str(args.blocks),
            "--disc-filters", str(args.disc_filters), "--disc-layers", str(args.disc_layers),
            "--steps", str(args.steps), "--warmup", str(args.warmup),
            "--threads", str(args.threads), "--seed", str(args.seed)]
    return argv


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except OSError:
        return None


def spawn(args, name):
    env = dict(os.environ)
    env["KERAS_BACKEND"] = "torch" if name in ("pytorch", "parity") else name
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    print(f"[benchmark] running {name} ...", file=sys.stderr, flush=True)
    load_before = loadavg()
    start = time.perf_counter()
    proc = subprocess.run(worker_argv(args, name), check=False, env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=args.timeout)
    wall = time.perf_counter() - start
    lines = [line for line in proc.stdout.splitlines() if line.startswith(RESULT_MARKER)]
    if proc.returncode or not lines:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
        raise RuntimeError(f"worker {name} failed (exit {proc.returncode}):\n{tail}")
    result = json.loads(lines[-1][len(RESULT_MARKER):])
    result["process_wall_s"] = wall
    result["loadavg_1min"] = [load_before, loadavg()]
    step = f": median step {1e3 * result['median_s']:.1f} ms" if "median_s" in result else ""
    print(f"[benchmark] {name} done in {wall:.1f}s{step}", file=sys.stderr, flush=True)
    return result


def default_backends():
    return [b for b in KERAS_BACKENDS if importlib.util.find_spec(b) is not None]


def markdown_table(results, args, baseline):
    unit = "clips/s" if args.rank == 3 else "frames/s"
    rows = [
        (f"| implementation | compiled as | median step (ms) | p90 step (ms) | {unit} "
        f"| step time vs plain PyTorch | first step (s) | 1-min load before/after |"),
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        ratio = f"{r['median_s'] / baseline['median_s']:.2f}x" if baseline else "n/a"
        rows.append(
            f"| {r['label']} | {r['jit']} | {1e3 * r['median_s']:.1f} | {1e3 * r['p90_s']:.1f} "
            f"| {r['samples_per_s']:.2f} | {ratio} | {r['first_step_s']:.2f} "
            f"| {r['loadavg_1min'][0]} / {r['loadavg_1min'][1]} |"
        )
    return "\n".join(rows)


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        run_worker(args)
        return
    backends = args.backends.split(",") if args.backends else default_backends()
    unknown = [b for b in backends if b not in KERAS_BACKENDS]
    if unknown:
        raise SystemExit(f"unknown backends {unknown}; choose from {KERAS_BACKENDS}")
    info = machine_info()
    if args.rounds < 1:
        raise SystemExit("--rounds must be >= 1")
    parity = None if args.no_parity else spawn(args, "parity")
    timed = ([] if args.no_baseline else ["pytorch"]) + backends
    rounds = {name: [] for name in timed}
    for _ in range(args.rounds):
        for name in timed:
            rounds[name].append(spawn(args, name))
    results = []
    for name in timed:
        best = min(rounds[name], key=lambda r: r["median_s"])
        best["round_medians_s"] = [r["median_s"] for r in rounds[name]]
        results.append(best)
    baseline = results[0] if not args.no_baseline else None
    reference = (baseline or parity or {}).get("params")
    for r in results:
        if reference is not None and r["params"] != reference:
            raise AssertionError(
                f"{r['name']} parameter counts {r['params']} differ from plain PyTorch {reference}")
    table = markdown_table(results, args, baseline)

    shape = "x".join(str(s) for s in (args.batch,) + sample_shape(args))
    layout = "NDHWC" if args.rank == 3 else "NHWC"
    print(f"\n### CycleGAN train step, rank {args.rank}, batch shape {shape} ({layout})\n")
    print(f"Machine: {info['cpu']}, {info['cpu_count']} CPUs; " + ", ".join(
        f"{k} {v}" for k, v in info["versions"].items() if v))
    print(f"Config: {json.dumps(config_of(args))}"
          + (f"; best of {args.rounds} round-robin rounds" if args.rounds > 1 else ""))
    if reference:
        print("Parameters: " + ", ".join(f"{k} {v:,}" for k, v in reference.items()))
    if parity:
        print("Parity (Keras torch backend vs plain PyTorch, same weights): max |output diff| "
              f"{max(parity['max_abs_output_diff'].values()):.1e}, max relative gradient error "
              f"{max(parity['max_rel_grad_error'].values()):.1e}")
    print()
    print(table)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"config": config_of(args), "rounds": args.rounds, "machine": info,
                       "parity": parity,
                       "results": results, "table": table}, f, indent=2)
        print(f"\nwrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()

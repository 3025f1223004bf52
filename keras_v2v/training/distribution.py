"""Data-parallel training with the mechanisms Keras and its backends already have.

    backend     one host, N devices                several hosts
    jax         keras.distribution.DataParallel    the same over every host's devices, after
                                                   keras.distribution.initialize() (JAX's distributed
                                                   runtime; KERAS_DISTRIBUTION_JOB_ADDRESSES,
                                                   KERAS_DISTRIBUTION_NUM_PROCESSES, _PROCESS_ID)
    tensorflow  tf.distribute.MirroredStrategy     tf.distribute.MultiWorkerMirroredStrategy (TF_CONFIG)
    torch       none: Keras' torch backend has no distribution API (keras.distribution runs on
                JAX only), so more than one device is refused with the backends that can

Whatever the device count:
- the recipe's batch is the global batch, split evenly over all devices of all hosts (a batch
  that does not split is refused);
- the gradients are those of the global-batch mean (TensorFlow: each replica's loss is divided by
  the number of replicas before Keras' optimizer sums the replicas' gradients; JAX: one program
  over the sharded global batch);
- there is one history pool per domain for the global batch, with one RNG (`CycleGAN.pooled_fakes`);
so N devices train what one device trains, up to float summation order, and a checkpoint
(weights, optimizer, pools and their RNG state) resumes on any device count.

On a host without GPUs the CPU is split into N virtual devices. They share the same cores: that
checks the mechanism (the tests do) but does not train faster.
"""

import contextlib
import dataclasses
import functools
import json
import os
import warnings

import keras

SUPPORTED_BACKENDS = ("jax", "tensorflow")
JAX_HOST_VARIABLES = (
    "KERAS_DISTRIBUTION_JOB_ADDRESSES",
    "KERAS_DISTRIBUTION_NUM_PROCESSES",
    "KERAS_DISTRIBUTION_PROCESS_ID",
)


@dataclasses.dataclass(frozen=True)
class Plan:
    """How one process trains: its backend, devices per host, hosts and its own host index."""

    backend: str
    devices: int = 1
    hosts: int = 1
    host: int = 0

    @property
    def replicas(self):
        return self.devices * self.hosts

    @property
    def distributed(self):
        return self.replicas > 1

    @property
    def is_chief(self):
        """Host 0 writes the run folder, the samples and the preset."""
        return self.host == 0

    @property
    def mechanism(self):
        if not self.distributed:
            return "one device"
        if self.backend == "jax":
            return "keras.distribution.DataParallel" + (" + keras.distribution.initialize" if self.hosts > 1 else "")
        return "tf.distribute." + ("MultiWorkerMirroredStrategy" if self.hosts > 1 else "MirroredStrategy")

    def describe(self):
        where = f"{self.devices} device(s)" + (f" on each of {self.hosts} hosts (this is host {self.host})"
                                               if self.hosts > 1 else "")
        return f"{self.backend}: {self.mechanism} over {where}"

    def check_batch(self, batch_size, name="[training] batch_size"):
        """The global batch must split evenly: each replica's mean then averages to the global mean."""
        if batch_size % self.replicas:
            fit = self.replicas * -(-batch_size // self.replicas)
            raise ValueError(
                f"{name} = {batch_size} does not split evenly over {self.replicas} devices "
                f"({self.hosts} host(s) x {self.devices}); use a multiple of {self.replicas}, "
                f"e.g. --set training.batch_size={fit}"
            )


def _env_int(environ, name):
    raw = environ.get(name, "")
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name} must be an integer, found {raw!r}") from None


def hosts_from_environment(backend, environ=None):
    """(hosts, this host's index) from the variables the backend's multi-host runtime reads."""
    environ = os.environ if environ is None else environ
    if backend == "jax" and environ.get("KERAS_DISTRIBUTION_NUM_PROCESSES"):
        hosts = _env_int(environ, "KERAS_DISTRIBUTION_NUM_PROCESSES")
        if hosts < 2:
            return 1, 0
        missing = [n for n in JAX_HOST_VARIABLES if not environ.get(n)]
        if missing:
            raise ValueError(f"multi-host JAX training needs {', '.join(JAX_HOST_VARIABLES)}; "
                             f"{', '.join(missing)} not set")
        host = _env_int(environ, "KERAS_DISTRIBUTION_PROCESS_ID")
    elif backend == "tensorflow" and environ.get("TF_CONFIG"):
        try:
            config = json.loads(environ["TF_CONFIG"])
            cluster, task = config["cluster"], config["task"]
            chiefs, workers = list(cluster.get("chief", [])), list(cluster.get("worker", []))
            index = int(task.get("index", 0))
            host = index if task["type"] == "chief" else len(chiefs) + index
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise ValueError(
                "TF_CONFIG must be JSON like {\"cluster\": {\"worker\": [\"host0:port\", \"host1:port\"]}, "
                f"\"task\": {{\"type\": \"worker\", \"index\": 0}}}}; found {environ['TF_CONFIG']!r} ({error})"
            ) from None
        hosts = len(chiefs) + len(workers)
        if hosts < 2:
            return 1, 0
    else:
        return 1, 0
    if not 0 <= host < hosts:
        raise ValueError(f"this host's index {host} is outside the {hosts} hosts of the cluster")
    return hosts, host


def make_plan(devices=1, backend=None, environ=None):
    """Checks `devices` (per host) against the backend and the multi-host environment; starts nothing."""
    backend = backend or keras.backend.backend()
    if isinstance(devices, bool) or not isinstance(devices, int) or devices < 1:
        raise ValueError(f"devices must be a positive integer, found {devices!r}")
    hosts, host = hosts_from_environment(backend, environ)
    if devices * hosts > 1 and backend not in SUPPORTED_BACKENDS:
        raise ValueError(
            f"data-parallel training (devices = {devices}, hosts = {hosts}) needs the jax or tensorflow "
            f"backend: Keras' {backend} backend has no distribution support (keras.distribution runs on "
            "JAX, tf.distribute on TensorFlow); set KERAS_BACKEND=jax or KERAS_BACKEND=tensorflow"
        )
    return Plan(backend, devices, hosts, host)


# ------------------------------------------------------------------- JAX
def _jax_data_parallel(plan):
    import jax

    if plan.devices > 1:
        try:
            # On a CPU-only host this gives N virtual devices; it must precede JAX's first device use.
            jax.config.update("jax_num_cpu_devices", plan.devices)
        except (RuntimeError, ValueError):
            pass  # the backend is up already; the count check below explains what to do
    if plan.hosts > 1 and not jax.distributed.is_initialized():
        keras.distribution.initialize()  # reads KERAS_DISTRIBUTION_*; JAX uses gloo collectives on CPU
    by_host = {}
    for device in jax.devices():
        by_host.setdefault(device.process_index, []).append(device)
    local = by_host.get(jax.process_index(), [])
    platform = jax.default_backend()
    if len(local) < plan.devices:
        hint = (f"; on CPU start Python with XLA_FLAGS=--xla_force_host_platform_device_count={plan.devices}"
                if platform == "cpu" else "")
        raise ValueError(f"devices = {plan.devices} but this host has {len(local)} {platform} device(s) "
                         f"for JAX{hint}")
    if len(by_host) != plan.hosts:
        raise ValueError(f"JAX sees {len(by_host)} processes but the environment names {plan.hosts} hosts")
    _warn_if_virtual(plan, platform)
    chosen = [f"{d.platform}:{d.id}" for index in sorted(by_host) for d in by_host[index][: plan.devices]]
    # Each host feeds its own rows (`host_batches`), so Keras must not shard the data again.
    return keras.distribution.DataParallel(devices=chosen, auto_shard_dataset=False)


# ------------------------------------------------------------ TensorFlow
def _split_cpu(tf, count):
    cpu = tf.config.list_physical_devices("CPU")[0]
    have = tf.config.get_logical_device_configuration(cpu) or [None]
    if len(have) >= count:
        return
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError:
        raise ValueError(
            f"devices = {count}: TensorFlow started with {len(have)} CPU device(s) and cannot split the CPU "
            "once it runs; choose the devices before TensorFlow's first operation"
        ) from None


# One strategy per process and device set: TensorFlow numbers its collective operations
# per strategy object, and a second strategy over the same devices reuses numbers the
# runtime has already bound to other shapes ("Shape mismatch in the collective instance").
@functools.lru_cache(maxsize=None)
def _mirrored_strategy(device_names):
    import tensorflow as tf

    return tf.distribute.MirroredStrategy(list(device_names))


@functools.lru_cache(maxsize=None)
def _multi_worker_strategy():
    import tensorflow as tf

    return tf.distribute.MultiWorkerMirroredStrategy()


def _tf_strategy(plan):
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if plan.hosts > 1:
        # Each worker trains on all its GPUs, or on its one CPU device.
        have = len(gpus) or 1
        if plan.devices != have:
            raise ValueError(
                f"devices = {plan.devices}, but MultiWorkerMirroredStrategy uses all {have} "
                f"{'GPU' if gpus else 'CPU'} device(s) of each worker; set devices = {have}"
                + (" or choose GPUs with CUDA_VISIBLE_DEVICES" if gpus else "")
            )
        return _multi_worker_strategy()
    if gpus:
        logical = tf.config.list_logical_devices("GPU")
    else:
        _split_cpu(tf, plan.devices)
        logical = tf.config.list_logical_devices("CPU")
    if len(logical) < plan.devices:
        raise ValueError(f"devices = {plan.devices} but this host has {len(logical)} "
                         f"{'GPU' if gpus else 'CPU'} device(s) for TensorFlow")
    _warn_if_virtual(plan, "gpu" if gpus else "cpu")
    return _mirrored_strategy(tuple(d.name for d in logical[: plan.devices]))


def _warn_if_virtual(plan, platform):
    if platform == "cpu" and plan.devices > 1:
        warnings.warn(
            f"training on {plan.devices} virtual CPU devices: they share this host's cores, so this "
            "checks data parallelism but does not train faster", stacklevel=3,
        )


# ------------------------------------------------------------------ use
@contextlib.contextmanager
def scope(plan):
    """Build (or load), compile and fit inside this context to train with `plan`'s mechanism."""
    if not plan.distributed:
        yield None
    elif plan.backend == "jax":
        distribution = _jax_data_parallel(plan)
        with distribution.scope():
            yield distribution
    else:
        strategy = _tf_strategy(plan)
        with strategy.scope():
            yield strategy


class HostShare(keras.utils.PyDataset):
    """This host's rows of each global batch (JAX multi-host: each process feeds its own rows).

    Every host draws the same global batch (same seed), so host h's rows are rows
    h*B/H .. (h+1)*B/H of what a single host would train on.
    """

    def __init__(self, batches, plan):
        super().__init__()
        self.batches, self.plan = batches, plan

    @property
    def epoch(self):
        return self.batches.epoch

    @epoch.setter
    def epoch(self, value):
        self.batches.epoch = value

    def __len__(self):
        return len(self.batches)

    def on_epoch_end(self):
        self.batches.on_epoch_end()

    def __getitem__(self, index):
        def rows(x):
            share = len(x) // self.plan.hosts
            return x[self.plan.host * share: (self.plan.host + 1) * share]

        return tuple(rows(x) for x in self.batches[index])


def host_batches(plan, batches):
    """What this process feeds to `fit`: the global batches, or its share of them."""
    if plan.backend == "jax" and plan.hosts > 1:
        return HostShare(batches, plan)
    # tf.distribute (Mirrored and MultiWorkerMirrored) takes global batches and splits them itself.
    return batches

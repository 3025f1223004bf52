"""How many threads one host's operations use: `[distribution] threads_per_op` and `ops_at_once`.

On a small CPU, small convolutions split over every core lose time waiting for each other: on
the 2-core machine of benchmarks/README.md, one thread per operation and two operations at once
made the bfloat16 3D recipe's step 1.14-1.16x shorter. The best values depend on the machine, so
the zoo's recipes leave both at 0 (the backend's default) and a run chooses them:

    keras-v2v train RECIPE --set distribution.threads_per_op=1 --set distribution.ops_at_once=2

TensorFlow accepts them only before its first operation and torch takes `ops_at_once` only
before its first parallel work: a process that has already run one keeps its threads (and is
warned). JAX reads its CPU threads from XLA_FLAGS when it starts, so it is warned too.
"""

import warnings

import keras


def configure(threads_per_op=0, ops_at_once=0, backend=None):
    """Sets the backend's thread counts (0 leaves its default). Returns a line saying what is in use, or None."""
    if not (threads_per_op or ops_at_once):
        return None
    backend = backend or keras.backend.backend()
    settings = _settings(backend)
    if settings is None:
        warnings.warn(f"[distribution] threads_per_op / ops_at_once are not applied on {backend}: XLA takes its "
                      "CPU threads from XLA_FLAGS before JAX starts", stacklevel=2)
        return None
    for key, value in (("threads_per_op", threads_per_op), ("ops_at_once", ops_at_once)):
        get, put = settings[key]
        if not value or get() == value:
            continue
        try:
            put(value)
        except RuntimeError:
            warnings.warn(f"[distribution] {key} = {value} not applied: {backend} has already run work in this "
                          f"process with {get()} (0 = its default) and cannot change it; start a new process",
                          stacklevel=2)
    per_op, at_once = (settings[key][0]() for key in ("threads_per_op", "ops_at_once"))
    return f"threads: {per_op or 'default'} per operation, {at_once or 'default'} operations at once ({backend})"


def _settings(backend):
    if backend == "tensorflow":
        import tensorflow as tf

        threading = tf.config.threading
        return dict(threads_per_op=(threading.get_intra_op_parallelism_threads,
                                    threading.set_intra_op_parallelism_threads),
                    ops_at_once=(threading.get_inter_op_parallelism_threads,
                                 threading.set_inter_op_parallelism_threads))
    if backend == "torch":
        import torch

        return dict(threads_per_op=(torch.get_num_threads, torch.set_num_threads),
                    ops_at_once=(torch.get_num_interop_threads, torch.set_num_interop_threads))
    return None

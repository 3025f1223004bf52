"""What every verb of the `keras-v2v` command shares: one-line errors and the backend's quiet start."""

import os
import re
import sys

VOLUME_SUFFIXES = (".nii", ".nii.gz")


class CommandError(Exception):
    """A problem with the user's input, reported as one line."""


def load_backend():
    """Imports Keras and its backend, keeping TensorFlow's C++/absl start-up lines off stderr.

    TensorFlow prints oneDNN, CPU-feature and absl notices while it loads, even
    with TF_CPP_MIN_LOG_LEVEL=3; they go to file descriptor 2 from C++, so the
    descriptor points at /dev/null for the duration of the import.
    """
    if "keras" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # later C++ warnings too (grappler)
    if os.environ.get("KERAS_V2V_TF_LOGS", "").strip() not in ("", "0"):
        import keras  # noqa: F401

        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import keras  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _is_volume(path):
    return str(path).lower().endswith(VOLUME_SUFFIXES)


def _in_cli_terms(error, hint, env_var):
    """A library's over-the-limit message with the advice in this command's options, not Python arguments.

    The readers and `translate` advise `max_frames=`, `max_bytes=` and `batch_size`, which a
    command-line user cannot type; the measured sizes before that advice are kept.
    """
    text = str(error)
    found = re.match(r"(.*? over the limit of [^;]+);", text)
    if not found:
        return error
    return CommandError(f"{found.group(1)}; {hint}, or set {env_var} (e.g. {env_var}=8GiB) to raise the limit")

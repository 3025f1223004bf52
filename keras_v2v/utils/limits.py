"""How much memory one read (or one translation) may take, and the message when it would take more.

A 3 KB GIF can declare 16000x16000 frames and a 2 MB .nii.gz can hold 768^3
voxels: readers check what a file declares against a limit before they decode
a pixel. The limit is 2 GiB by default; the `max_bytes` argument of a reader,
or the environment variable KERAS_V2V_MAX_DECODED_BYTES (e.g. "8GiB"), raises
or lowers it.
"""

import os
import re

ENV_VAR = "KERAS_V2V_MAX_DECODED_BYTES"
MEMORY_ENV_VAR = "KERAS_V2V_MAX_MEMORY"
DEFAULT_MAX_BYTES = 2 * 2**30
MAX_SETTING = 2**60  # far above any machine, far below what an int64 size holds
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def parse_bytes(text, what=ENV_VAR):
    """"2GiB", "500 MB", "1e9" or an int -> bytes; ValueError naming `what` otherwise."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        value = float(text)
    else:
        found = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][0-9]+)?)\s*([A-Za-z]*)\s*", str(text))
        if not found or found.group(2).lower() not in _UNITS:
            raise ValueError(f"{what} must be a size such as 2GiB, 500MB or 1000000000, got {text!r}")
        value = float(found.group(1)) * _UNITS[found.group(2).lower()]
    if not value >= 1 or value != value:
        raise ValueError(f"{what} must be a positive size of at least 1 byte, got {text!r}")
    if value > MAX_SETTING:  # 1e999 is infinity, which int() cannot hold
        raise ValueError(f"{what} must be a size of at most 1 EiB, got {text!r}")
    return int(value)


def max_bytes(limit=None):
    """The limit in bytes: `limit` when given, else KERAS_V2V_MAX_DECODED_BYTES, else 2 GiB."""
    if limit is not None:
        return parse_bytes(limit, "max_bytes")
    if os.environ.get(ENV_VAR, "").strip():
        return parse_bytes(os.environ[ENV_VAR])
    return DEFAULT_MAX_BYTES


def describe(nbytes):
    """1536 -> '1.5 KiB'."""
    for unit, size in (("EiB", 2**60), ("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= size:
            return f"{nbytes / size:.3g} {unit}"
    return f"{int(nbytes)} B"


def over_limit_message(what, nbytes, limit, hint="", raise_with=None):
    """One line: what would need how much, the limit, and how to raise it."""
    hint = f"{hint}; " if hint else ""
    raise_with = raise_with or f"pass max_bytes=... or set {ENV_VAR} (e.g. {ENV_VAR}=8GiB)"
    return (f"{what} would take {describe(nbytes)} of memory, over the limit of {describe(limit)}; "
            f"{hint}{raise_with} to raise the limit")


def physical_memory():
    """Bytes of RAM on this machine (None where the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def memory_limit():
    """What one model run may take: KERAS_V2V_MAX_MEMORY, else 3/4 of the machine's RAM (else 8 GiB)."""
    if os.environ.get(MEMORY_ENV_VAR, "").strip():
        return parse_bytes(os.environ[MEMORY_ENV_VAR], MEMORY_ENV_VAR)
    total = physical_memory()
    return int(total * 3 // 4) if total else 8 * 2**30


def check_environment():
    """Parses every limit variable that is set: a bad value is one line before any work, not after a model loads."""
    max_bytes()
    memory_limit()

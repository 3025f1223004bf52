"""Keep freed host memory in the process (glibc), for XLA on CPU.

XLA's CPU runtime takes every run's buffers (tens of MB for a 3D generator) from
malloc. glibc hands blocks over its mmap threshold (adaptive, at most 32 MiB) out
as fresh pages from the kernel and unmaps them on free, so each call pays a page
fault and a zeroed page per 4 KiB it touches: a 26 MB operand of a 3D layer took
29 ms to build and multiply instead of 14. Raising the mmap and trim thresholds
keeps freed blocks in the heap for the next call (what TensorFlow's and torch's
own allocators do); the cost is that the process keeps its peak memory.

A user's own `MALLOC_*` / `GLIBC_TUNABLES` settings win, and
`KERAS_V2V_KEEP_FREED_MEMORY=0` leaves malloc as it is.
"""

import ctypes
import os
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_THRESHOLD = 1 << 30

_applied = None


def _user_tuned():
    if os.environ.get("KERAS_V2V_KEEP_FREED_MEMORY", "1").strip().lower() in ("0", "false", "no", "off"):
        return True
    if any(name.startswith("MALLOC_") for name in os.environ):
        return True
    return "malloc" in os.environ.get("GLIBC_TUNABLES", "")


def keep_freed_memory():
    """Raise glibc's mmap and trim thresholds once per process; True when they are raised here.

    False (and nothing changed) off Linux, on a C library without `mallopt`, or when the
    user tuned malloc or opted out (see the module docstring)."""
    global _applied
    if _applied is not None:
        return _applied
    _applied = False
    if not sys.platform.startswith("linux") or _user_tuned():
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    # Trim first: with the mmap threshold raised alone, large frees would still shrink the heap.
    _applied = bool(mallopt(_M_TRIM_THRESHOLD, _THRESHOLD)) and bool(mallopt(_M_MMAP_THRESHOLD, _THRESHOLD))
    return _applied

"""keep_freed_memory: glibc keeps freed blocks for the next XLA run, unless the user tuned malloc."""

import os
import platform
import subprocess
import sys

import pytest

from keras_v2v.utils import host_memory

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"

# Loads the module by path (no keras import), then asks where a 100 MB block comes from.
_WHERE_BIG_BLOCKS_LIVE = """
import ctypes, importlib.util, sys
spec = importlib.util.spec_from_file_location("host_memory", sys.argv[1])
host_memory = importlib.util.module_from_spec(spec)
spec.loader.exec_module(host_memory)
print("applied", host_memory.keep_freed_memory())
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
block = libc.malloc(100 << 20)
for line in open("/proc/self/maps"):
    fields = line.split()
    start, end = (int(v, 16) for v in fields[0].split("-"))
    if start <= block < end:
        print("region", fields[5] if len(fields) > 5 else "anonymous")
"""


def _run(env_extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    env.update(env_extra)
    path = os.path.join(ROOT, "keras_v2v", "utils", "host_memory.py")
    result = subprocess.run([sys.executable, "-c", _WHERE_BIG_BLOCKS_LIVE, path], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


@pytest.mark.skipif(not GLIBC, reason="glibc's mallopt")
def test_big_blocks_come_from_the_heap_after_keep_freed_memory():
    out = _run({})
    assert out[:2] == ["applied", "True"] and out[-1] == "[heap]", out


@pytest.mark.skipif(not GLIBC, reason="glibc's mallopt")
@pytest.mark.parametrize("setting", [{"KERAS_V2V_KEEP_FREED_MEMORY": "0"}, {"MALLOC_ARENA_MAX": "2"},
                                     {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=1000"}])
def test_a_user_setting_leaves_malloc_alone(setting):
    out = _run(setting)
    assert out[:2] == ["applied", "False"] and out[-1] != "[heap]", out


def test_applies_once_per_process(monkeypatch):
    calls = []
    monkeypatch.setattr(host_memory, "_applied", None)
    monkeypatch.setattr(host_memory, "_user_tuned", lambda: calls.append(1) or True)
    assert host_memory.keep_freed_memory() is False
    assert host_memory.keep_freed_memory() is False
    assert calls == [1]

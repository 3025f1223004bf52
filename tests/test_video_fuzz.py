"""Corrupt videos: every read either returns a valid uint8 video or raises DataError.

Truncations at many offsets and seeded random bit flips of a small MP4 and
GIF. All cases run in one subprocess with a timeout, so a hang or a crash in
FFmpeg fails the test (naming the last case started) instead of the run.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from keras_v2v.data.video_write import write_video

CASES_PER_FILE = 15  # 2 files -> 30 cases, 3 reads each

WORKER = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from keras_v2v.data.errors import DataError
    from keras_v2v.data.video_io import read_video, video_info

    def valid(a):
        return (isinstance(a, np.ndarray) and a.dtype == np.uint8 and a.ndim == 4
                and a.shape[0] >= 1 and a.shape[-1] == 3 and min(a.shape[1:3]) >= 1)

    for path in sys.argv[1:]:
        print(json.dumps({"start": path}), flush=True)
        outcome = {}
        for name, call in (("full", lambda: read_video(path)),
                           ("window", lambda: read_video(path, 3, 7)),
                           ("info", lambda: video_info(path))):
            try:
                result = call()
                ok = valid(result) if name != "info" else result.frames >= 1
                outcome[name] = "ok" if ok else f"invalid result {result!r:.80}"
            except DataError:
                outcome[name] = "DataError"
            except BaseException as e:
                outcome[name] = f"{type(e).__name__}: {e}"
        print(json.dumps({"done": path, "outcome": outcome}), flush=True)
    """
)


def _smooth(t, h, w):
    tt, yy, xx = np.meshgrid(np.arange(t), np.arange(h), np.arange(w), indexing="ij")
    return np.stack(
        [128 + 90 * np.sin(xx / 5 + tt / 3), 128 + 90 * np.cos(yy / 4 - tt / 4), 96 + 0 * xx],
        -1,
    ).astype(np.uint8)


def _corrupt(data, rng, kind):
    if kind == "truncate":
        return data[: int(rng.integers(1, len(data)))]
    flipped = bytearray(data)
    for pos in rng.integers(0, len(data), size=int(rng.integers(1, 24))):
        flipped[pos] ^= 1 << int(rng.integers(0, 8))
    return bytes(flipped)


def test_corrupt_files_raise_only_data_error(tmp_path):
    frames = _smooth(16, 24, 32)
    bases = [
        write_video(tmp_path / "base.mp4", frames, fps=8, keyframe_interval=4),
        write_video(tmp_path / "base.gif", frames[..., :1] // 64 * 64, fps=8),
    ]
    rng = np.random.default_rng(20240531)
    cases = []
    for base in bases:
        with open(base, "rb") as fh:
            data = fh.read()
        suffix = os.path.splitext(base)[1]
        for k in range(CASES_PER_FILE):
            kind = "truncate" if k % 2 == 0 else "flip"
            path = tmp_path / f"case{len(cases):02d}_{kind}{suffix}"
            path.write_bytes(_corrupt(data, rng, kind))
            cases.append(str(path))

    env = dict(os.environ, KERAS_V2V_TFIO="0", KERAS_BACKEND="tensorflow")
    try:
        proc = subprocess.run(
            [sys.executable, "-c", WORKER, *cases],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            check=False,
            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        )
        stdout, crashed = proc.stdout, proc.returncode != 0
    except subprocess.TimeoutExpired as e:
        stdout = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        crashed = True

    started, outcomes = None, {}
    for line in stdout.splitlines():
        if not line.startswith("{"):
            continue
        record = json.loads(line)
        if "start" in record:
            started = record["start"]
        else:
            outcomes[record["done"]] = record["outcome"]
    if crashed or len(outcomes) != len(cases):
        pytest.fail(
            f"worker hung or crashed while reading {started} "
            f"({len(outcomes)}/{len(cases)} cases finished)"
        )
    bad = {
        os.path.basename(p): o
        for p, o in outcomes.items()
        if any(v not in ("ok", "DataError") for v in o.values())
    }
    assert not bad, f"reads raised something other than DataError: {bad}"
    # The corpus must exercise both outcomes, or it tests nothing.
    flat = [v for o in outcomes.values() for v in o.values()]
    assert "ok" in flat and "DataError" in flat

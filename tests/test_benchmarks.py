"""The benchmark scripts run end to end at a tiny size on CPU, so they cannot break unnoticed.

They measure; these tests only check that they finish and report what they
promise (rows, parity, FLOPs, files). No timing is asserted.
"""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCHMARKS = os.path.join(ROOT, "benchmarks")


def _run(argv, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([ROOT, BENCHMARKS]), "OMP_WAIT_POLICY": "PASSIVE"}
    result = subprocess.run([sys.executable] + argv, capture_output=True, text=True, timeout=900, cwd=ROOT, env=env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result


def test_train_step_race_reports_every_row_and_parity(tmp_path):
    out = tmp_path / "race.json"
    _run([os.path.join(BENCHMARKS, "train_step.py"), "--config", "tiny", "--rounds", "2", "--steps", "1",
          "--warmup", "1", "--workers", "pytorch,tensorflow", "--json", str(out)], tmp_path)
    report = json.loads(out.read_text())
    rows = {r["name"]: r for r in report["summary"]}
    assert set(rows) == {"pytorch", "tensorflow"}
    assert all(r["steps_timed"] == 2 and r["min_s"] <= r["median_s"] <= r["max_s"] for r in rows.values())
    assert rows["pytorch"]["threads"]["OMP_WAIT_POLICY"] == "PASSIVE"
    assert max(report["parity"]["max_abs_output_diff"].values()) < 1e-3
    assert report["load_average"]["samples"] >= 1 and "speed-up vs native eager" in report["table"]


def test_gpu_script_runs_at_a_tiny_size_on_cpu(tmp_path):
    _run([os.path.join(BENCHMARKS, "gpu.py"), "--tiny", "--out", str(tmp_path), "--steps", "1", "--warmup", "1",
          "--implementations", "native-eager,keras-tensorflow", "--dtypes", "float32,bfloat16"], tmp_path)
    report = json.loads((tmp_path / "gpu.json").read_text())
    rows = report["results"]["tiny"]["rows"]
    assert [(r["impl"], r["dtype"]) for r in rows] == [
        ("native-eager", "float32"), ("keras-tensorflow", "float32"),
        ("native-eager", "bfloat16"), ("keras-tensorflow", "bfloat16")]
    assert all(r["median_s"] > 0 for r in rows)
    # The tiny generator (7x7x7 stem and head, 2 stride-2 steps, 1 block, filters 2, 8x16x16x1 clips),
    # its convolutions' multiply-adds counted by hand:
    macs = (2048 * 343 * 1 * 2 + 256 * 27 * 2 * 4 + 32 * 27 * 4 * 8 + 2 * 32 * 27 * 8 * 8
            + 256 * 27 * 8 * 4 + 2048 * 27 * 4 * 2 + 2048 * 343 * 2 * 1)
    keras_row = rows[1]
    assert keras_row["generator_forward_flops"] == 2 * macs
    assert keras_row["flops_per_step"] == 3 * (6 * 2 * macs + 2 * keras_row["discriminator_forward_flops"]) \
        + 3 * 4 * keras_row["discriminator_forward_flops"]
    assert "| keras-tensorflow | bfloat16 |" in (tmp_path / "gpu.md").read_text()

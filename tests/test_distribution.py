"""Data-parallel training: the mechanism each backend gets, N devices = 1 device, resume across
device counts, several processes training one model, and clear refusals where nothing can work.

Virtual CPU devices (JAX: XLA_FLAGS, TensorFlow: logical devices) must exist before a backend
starts, so the training checks run `distribution_worker.py` in subprocesses, one per backend.

Tolerance. From identical weights and the same global batches, N devices and 1 device differ only
in float32 summation order (cross-device reductions, per-device convolutions), about 1e-7 relative
per step. Training then amplifies such differences (GAN updates through instance norms over small
maps, kinks of L1 and ReLU), so the check is relative to what training changed: after 3 SGD steps
the largest weight difference must stay below 1% of the largest weight update, and the logged
losses must agree to 1e-3 relative. The bugs this guards against are far outside that: gradients
summed without dividing by the replicas give a difference equal to the whole update (ratio 1), a
per-replica history pool or a lost temporal pair changes the discriminators' gradients outright.
"""

import importlib.util
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

from keras_v2v import cli
from keras_v2v.training import distribution, recipes

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORKER = os.path.join(HERE, "distribution_worker.py")
# Of the largest weight update; see the module docstring.
FIRST_STEP_TOLERANCE = 1e-3
STEPS_TOLERANCE = 5e-2
LOSS_RTOL = 1e-3
DP_BACKENDS = [b for b in ("jax", "tensorflow") if importlib.util.find_spec(b)]


def _environment(backend, cpus, **extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("KERAS_DISTRIBUTION_", "TF_CONFIG", "XLA_FLAGS"))}
    env.update(KERAS_BACKEND=backend, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=os.pathsep.join([ROOT, env.get("PYTHONPATH", "")]), **extra)
    if backend == "jax":
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={cpus}"
    else:
        env["V2V_TEST_CPUS"] = str(cpus)
    return env


def _worker(backend, scenario, out, *args):
    result = subprocess.run([sys.executable, WORKER, scenario, str(out), *args], env=_environment(backend, 2),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{backend} {scenario} worker failed:\n{result.stderr[-4000:]}"
    return dict(np.load(os.path.join(out, "-".join([scenario, *args]) + ".npz")))


def _weights(results, prefix):
    return {k[len(prefix) + 1:]: v for k, v in results.items() if k.startswith(prefix + "/") and "/log/" not in k}


def _check_same_weights(results, reference, other, start, tolerance, what):
    """`other` holds the weights `reference` holds, within `tolerance` of the largest update."""
    ref, got, initial = _weights(results, reference), _weights(results, other), _weights(results, start)
    assert ref and ref.keys() == got.keys(), what
    difference = update = 0.0
    for key, value in ref.items():
        if not np.issubdtype(value.dtype, np.floating):
            np.testing.assert_array_equal(got[key], value, err_msg=f"{what}: {key}")  # pool fill counts
            continue
        difference = max(difference, float(np.abs(got[key] - value).max()))
        if "pool" not in key:  # pools start empty: filling them is not a training step
            update = max(update, float(np.abs(value - initial[key]).max()))
    print(f"{what}: max |weight difference| {difference:.2e}, max |update| {update:.2e}")
    assert update > 1e-3, f"{what}: training did not move the weights"
    assert difference <= tolerance * update, f"{what}: {difference:.2e} > {tolerance} x {update:.2e}"


def _check_same_losses(results, reference, other, what):
    logs = [k for k in results if k.startswith(reference + "/log/")]
    assert len(logs) == 9, logs
    for key in logs:
        np.testing.assert_allclose(results[other + key[len(reference):]], results[key], rtol=LOSS_RTOL,
                                   atol=1e-6, err_msg=f"{what}: {key}")


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ------------------------------------------------------------ mechanism and refusals (no training)
def test_each_backend_gets_the_mechanism_keras_has():
    assert distribution.make_plan(1, backend="torch").mechanism == "one device"
    assert distribution.make_plan(4, backend="jax").mechanism == "keras.distribution.DataParallel"
    assert distribution.make_plan(2, backend="tensorflow").mechanism == "tf.distribute.MirroredStrategy"
    jax_hosts = {"KERAS_DISTRIBUTION_JOB_ADDRESSES": "10.0.0.1:1234", "KERAS_DISTRIBUTION_NUM_PROCESSES": "2",
                 "KERAS_DISTRIBUTION_PROCESS_ID": "1"}
    plan = distribution.make_plan(1, backend="jax", environ=jax_hosts)
    assert (plan.replicas, plan.host, plan.is_chief) == (2, 1, False)
    assert plan.mechanism == "keras.distribution.DataParallel + keras.distribution.initialize"
    tf_config = {"TF_CONFIG": json.dumps({"cluster": {"worker": ["10.0.0.1:2222", "10.0.0.2:2222"]},
                                          "task": {"type": "worker", "index": 0}})}
    plan = distribution.make_plan(1, backend="tensorflow", environ=tf_config)
    assert (plan.replicas, plan.is_chief, plan.mechanism) == (2, True, "tf.distribute.MultiWorkerMirroredStrategy")


def test_torch_refuses_more_than_one_device_naming_the_backends_that_can():
    with pytest.raises(ValueError, match="needs the jax or tensorflow backend") as error:
        distribution.make_plan(2, backend="torch")
    assert "\n" not in str(error.value) and "KERAS_BACKEND=jax" in str(error.value)


@pytest.mark.parametrize("devices, message", [(0, "positive integer, found 0"), (True, "positive integer")])
def test_bad_device_counts_are_refused(devices, message):
    with pytest.raises(ValueError, match=message):
        distribution.make_plan(devices, backend="jax")


def test_a_global_batch_that_does_not_split_is_refused():
    plan = distribution.make_plan(2, backend="tensorflow")
    plan.check_batch(4)
    with pytest.raises(ValueError, match=r"\[training\] batch_size = 1 does not split evenly over 2 devices"
                                         r".*--set training.batch_size=2"):
        plan.check_batch(1)


@pytest.mark.parametrize("environ, message", [
    ({"KERAS_DISTRIBUTION_NUM_PROCESSES": "2"}, "KERAS_DISTRIBUTION_JOB_ADDRESSES"),
    ({"KERAS_DISTRIBUTION_NUM_PROCESSES": "two"}, "must be an integer, found 'two'"),
])
def test_incomplete_jax_host_variables_are_named(environ, message):
    with pytest.raises(ValueError, match=message):
        distribution.make_plan(1, backend="jax", environ=environ)


def test_bad_tf_config_says_what_it_should_look_like():
    with pytest.raises(ValueError, match="TF_CONFIG must be JSON like"):
        distribution.make_plan(1, backend="tensorflow", environ={"TF_CONFIG": "{not json"})


def test_distribution_table_round_trips_and_does_not_block_resuming(tmp_path):
    path = tmp_path / "recipe.toml"
    path.write_text('name = "t"\ntask = "t"\nmethod = "3d"\n[dataset]\ngenerator = "volumetric_mnist"\n'
                    "[training]\nbatch_size = 2\n[distribution]\ndevices = 2\n")
    recipe = recipes.load_recipe(path)
    assert recipe.distribution == {"devices": 2} and recipe.training["batch_size"] == 2
    again = recipes.load_recipe(recipes.save_recipe(recipe, str(tmp_path / "again.toml")))
    assert again.distribution == recipe.distribution and "[distribution]" in recipe.to_toml()
    run_dir = str(tmp_path / "run")
    recipes.check_run_dir(recipe, run_dir)
    recipes.check_run_dir(recipe.replace(distribution={"devices": 1}), run_dir)  # another device count resumes
    with pytest.raises(recipes.RecipeError, match="different recipe"):
        recipes.check_run_dir(recipe.replace(training={"batch_size": 4}), run_dir)
    for bad, message in (("devices = 0", r"\[distribution\] devices must be a whole number >= 1, found 0"),
                         ("hosts = 2", r"unknown key\(s\) hosts in \[distribution\]")):
        path.write_text(path.read_text().replace("devices = 2", bad))
        with pytest.raises(recipes.RecipeError, match=message):
            recipes.load_recipe(path)
        path.write_text(path.read_text().replace(bad, "devices = 2"))


def test_cli_devices_on_torch_is_one_line_naming_the_backends(tmp_path):
    path = tmp_path / "recipe.toml"
    path.write_text('name = "t"\ntask = "t"\nmethod = "3d"\n[dataset]\ngenerator = "volumetric_mnist"\n')
    code = (f"import sys; from keras_v2v import cli; "
            f"sys.exit(cli.main(['train', {str(path)!r}, '--devices', '2', '--run-dir', {str(tmp_path / 'r')!r}]))")
    env = {**os.environ, "KERAS_BACKEND": "torch", "OMP_WAIT_POLICY": "PASSIVE"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2, result.stderr
    error = result.stderr.strip().splitlines()
    assert error == [error[0]] and error[0].startswith("keras-v2v: error: data-parallel training (devices = 2")
    assert "jax or tensorflow" in error[0] and "torch backend has no distribution support" in error[0]


def test_cli_rejects_a_non_positive_device_count(tmp_path, capsys):
    path = tmp_path / "recipe.toml"
    path.write_text('name = "t"\ntask = "t"\nmethod = "3d"\n[dataset]\ngenerator = "volumetric_mnist"\n')
    assert cli.main(["train", str(path), "--devices", "0", "--run-dir", str(tmp_path / "r")]) == 2
    assert "--devices must be a positive integer (devices per host), found 0" in capsys.readouterr().err


# ------------------------------------------------------------------------------- training
@pytest.mark.parametrize("case", ["2d", pytest.param("3d", marks=pytest.mark.slow)])
@pytest.mark.parametrize("backend", DP_BACKENDS)
def test_two_devices_train_what_one_device_trains(backend, case, tmp_path):
    results = _worker(backend, "steps", tmp_path, case)
    what = f"{backend} {case}, 2 vs 1 device"
    _check_same_losses(results, f"{case}/1", f"{case}/2", what)
    _check_same_weights(results, f"{case}/1/first", f"{case}/2/first", f"{case}/1/start", FIRST_STEP_TOLERANCE,
                        what + " after 1 step")
    _check_same_weights(results, f"{case}/1/end", f"{case}/2/end", f"{case}/1/start", STEPS_TOLERANCE,
                        what + " after 3 steps")


RECIPE = """\
name = "tiny-dp"
task = "tiny"
method = "3d"

[dataset]
generator = "volumetric_mnist"
n = 6
depth = 4
size = 16
seed = 0

[model]
clip_length = 4
temporal_stride = false
filters = 2
num_blocks = 1
discriminator_filters = 2
discriminator_layers = 2

[training]
steps = 2
chunk = 1
batch_size = 2
pool_size = 2
sample_every = 0
"""


@pytest.fixture(scope="module")
def single_process_runs(tmp_path_factory):
    """Per backend: the recipe on one device, and resumed across device counts (one worker run each)."""
    runs = {}

    def get(backend):
        if backend not in runs:
            out = tmp_path_factory.mktemp(f"recipe-{backend}")
            (out / "recipe.toml").write_text(RECIPE)
            runs[backend] = _worker(backend, "recipe", out)
        return runs[backend]

    return get


@pytest.mark.slow
@pytest.mark.parametrize("backend", DP_BACKENDS)
def test_checkpoints_resume_across_device_counts(backend, single_process_runs):
    results = single_process_runs(backend)
    for other in ("two_then_one", "one_then_two"):
        what = f"{backend} recipe, {other.replace('_', ' ')} vs one device"
        _check_same_losses(results, "one", other, what)
        _check_same_weights(results, "one", other, "start", FIRST_STEP_TOLERANCE, what)


@pytest.mark.slow
@pytest.mark.parametrize("backend", DP_BACKENDS)
def test_two_processes_train_one_model_over_loopback(backend, single_process_runs, tmp_path):
    if backend == "jax":
        port = _free_port()
        environments = [_environment("jax", 1, KERAS_DISTRIBUTION_JOB_ADDRESSES=f"127.0.0.1:{port}",
                                     KERAS_DISTRIBUTION_NUM_PROCESSES="2", KERAS_DISTRIBUTION_PROCESS_ID=str(host))
                        for host in range(2)]
    else:
        workers = [f"127.0.0.1:{_free_port()}" for _ in range(2)]
        environments = [_environment("tensorflow", 1, TF_CONFIG=json.dumps(
            {"cluster": {"worker": workers}, "task": {"type": "worker", "index": host}})) for host in range(2)]
    (tmp_path / "recipe.toml").write_text(RECIPE)
    hosts = [subprocess.Popen([sys.executable, WORKER, "host", str(tmp_path)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for env in environments]
    try:
        outputs = [host.communicate(timeout=600) for host in hosts]
    finally:
        for host in hosts:
            if host.poll() is None:
                host.kill()
    for index, (host, (_, err)) in enumerate(zip(hosts, outputs)):
        assert host.returncode == 0, f"{backend} host {index} failed:\n{err[-4000:]}"
    plan = json.loads((tmp_path / "host1.json").read_text())["plan"]
    assert plan.startswith(f"{backend}: {'keras.distribution.DataParallel' if backend == 'jax' else 'tf.distribute'}")
    assert plan.endswith("on each of 2 hosts (this is host 1)")
    # Both hosts end with the same model, bit for bit; only host 0 wrote the run folder.
    weights = [dict(np.load(tmp_path / f"host{i}.npz")) for i in range(2)]
    assert len(weights[0]) > 40
    for key, value in weights[0].items():
        np.testing.assert_array_equal(weights[1][key.replace("host0", "host1", 1)], value, err_msg=key)
    assert (tmp_path / "run" / "checkpoint.keras").exists()
    # And it is the model one process on one device trains from the same batches.
    results = {**single_process_runs(backend), **weights[0]}
    _check_same_weights(results, "one", "host0", "start", FIRST_STEP_TOLERANCE, f"{backend} 2 hosts vs one device")

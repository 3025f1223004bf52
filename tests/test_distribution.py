"""Data-parallel training: the mechanism each backend gets, N devices = 1 device, resume across
device counts, several processes training one model, and clear refusals where nothing can work.

Virtual CPU devices (JAX: XLA_FLAGS, TensorFlow: logical devices) must exist before a backend
starts, so the training checks run `distribution_worker.py` in subprocesses, one per backend.

Tolerance. Each comparison starts from one state (weights, optimizer, pools, pool RNG) and feeds
the same global batches, so 2 devices and 1 differ only in float32 summation order (convolutions
over 2 rows instead of 4, cross-device sums). Measured: 1e-8 to 1e-6 in the weights, at most
~4e-5 of the largest weight update, after 1 or 2 steps. The checks: weights within 1e-3 of the
largest weight update, pool contents (values in [-1, 1]) within 1e-3, pool fill counts exact,
logged losses within 1e-4 relative. A fresh 2-device run is compared with a fresh 1-device run
for one step only: over 3 steps GAN training amplifies step 1's rounding (steep curvature
through instance norms over 4x4 maps) to 5% of an update on JAX, a chaotic difference, not a
wrong one; so steps 2-3 start from a shared checkpoint. The bugs these checks are for are far
outside (measured on TensorFlow by breaking the code): replicas' gradients summed without
dividing by the replicas give a step-1 difference of 1.0x the update; a pool or a temporal
penalty over each replica's rows instead of the global batch, 2.6e-2 to 1.5e-1 of the update,
with losses 2% to 20% apart.
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
TOLERANCE = 1e-3  # of the largest weight update; see the module docstring
POOL_ATOL = 1e-3
LOSS_RTOL = 1e-4
DP_BACKENDS = [b for b in ("jax", "tensorflow") if importlib.util.find_spec(b)]


def _environment(backend, cpus, jax_cache=None, **extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("KERAS_DISTRIBUTION_", "TF_CONFIG", "XLA_FLAGS"))}
    env.update(KERAS_BACKEND=backend, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=os.pathsep.join([ROOT, env.get("PYTHONPATH", "")]), **extra)
    if backend == "jax":
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={cpus}"
        if jax_cache:
            # Compiling dominates these runs; the workers compile the same programs, so they share them.
            env.update(JAX_COMPILATION_CACHE_DIR=str(jax_cache), JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
                       JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0")
    else:
        env["V2V_TEST_CPUS"] = str(cpus)
    return env


def _worker(backend, out, scenario, jax_cache=None):
    result = subprocess.run([sys.executable, WORKER, str(out), scenario], env=_environment(backend, 2, jax_cache),
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{backend} {scenario} worker failed:\n{result.stderr[-4000:]}"
    return dict(np.load(os.path.join(out, scenario + ".npz")))


def _weights(results, prefix):
    return {k[len(prefix) + 1:]: v for k, v in results.items() if k.startswith(prefix + "/") and "/log/" not in k}


def _check_same_weights(results, reference, other, start, tolerance, what):
    """`other` holds the weights `reference` holds, within `tolerance` of the largest update."""
    ref, got, initial = _weights(results, reference), _weights(results, other), _weights(results, start)
    assert ref and ref.keys() == got.keys() == initial.keys(), what
    difference = update = pools = 0.0
    for key, value in ref.items():
        if not np.issubdtype(value.dtype, np.floating):
            np.testing.assert_array_equal(got[key], value, err_msg=f"{what}: {key}")  # pool fill counts
        elif "pool" in key:  # fakes, not weights: they start empty
            pools = max(pools, float(np.abs(got[key] - value).max()))
        else:
            difference = max(difference, float(np.abs(got[key] - value).max()))
            update = max(update, float(np.abs(value - initial[key]).max()))
    print(f"{what}: max |weight difference| {difference:.2e} = {difference / update:.1e} x max |update| "
          f"{update:.2e}; max |pool difference| {pools:.2e}")
    assert update > 1e-3, f"{what}: training did not move the weights"
    assert difference <= tolerance * update, f"{what}: {difference:.2e} > {tolerance} x {update:.2e}"
    assert pools <= POOL_ATOL, f"{what}: the history pools differ by {pools:.2e}"


def _check_same_losses(results, reference, other, what, count=10):  # CycleGAN METRIC_NAMES
    logs = [k for k in results if k.startswith(reference + "/log/")]
    assert len(logs) == count, logs
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
    assert recipe.distribution["devices"] == 2 and recipe.training["batch_size"] == 2
    again = recipes.load_recipe(recipes.save_recipe(recipe, str(tmp_path / "again.toml")))
    assert again.distribution == recipe.distribution and "[distribution]" in recipe.to_toml()
    run_dir = str(tmp_path / "run")
    recipes.check_run_dir(recipe, run_dir)
    recipes.check_run_dir(recipe.replace(distribution={"devices": 1}), run_dir)  # another device count resumes
    open(os.path.join(run_dir, "checkpoint-0000001.keras"), "wb").close()  # a started run
    with pytest.raises(recipes.RecipeError, match="different recipe"):
        recipes.check_run_dir(recipe.replace(training={"batch_size": 4}), run_dir)
    for bad, message in (("devices = 0", r"\[distribution\] devices must be a whole number >= 1, found 0"),
                         ("hosts = 2", r"unknown key\(s\) hosts in \[distribution\]")):
        path.write_text(path.read_text().replace("devices = 2", bad))
        with pytest.raises(recipes.RecipeError, match=message):
            recipes.load_recipe(path)
        path.write_text(path.read_text().replace(bad, "devices = 2"))


def test_other_hosts_only_compare_the_recorded_recipe(tmp_path):
    path = tmp_path / "recipe.toml"
    path.write_text('name = "t"\ntask = "t"\nmethod = "3d"\n[dataset]\ngenerator = "volumetric_mnist"\n')
    recipe = recipes.load_recipe(path)
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / ".recipe.tmp-1-0123abcd.toml").write_text("the chief writing")  # not refused, not touched
    recipes.check_run_dir(recipe, str(shared), record=False)
    assert os.listdir(shared) == [".recipe.tmp-1-0123abcd.toml"]
    (shared / ".recipe.tmp-1-0123abcd.toml").unlink()
    recipes.check_run_dir(recipe, str(shared))  # the chief records it
    with pytest.raises(recipes.RecipeError, match="different recipe"):
        recipes.check_run_dir(recipe.replace(model={"filters": 4}), str(shared), record=False)


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
    assert not (tmp_path / "r").exists()  # refused before the run folder is made


@pytest.mark.skipif(not DP_BACKENDS, reason="needs jax or tensorflow")
def test_cli_refuses_a_batch_that_does_not_split_before_making_the_run_folder(tmp_path, capsys, monkeypatch):
    # Otherwise the folder would hold the refused recipe, and the corrected command
    # (--set training.batch_size=2) would be refused as "a run of a different recipe".
    monkeypatch.setattr(distribution.keras.backend, "backend", lambda: DP_BACKENDS[-1])
    path = tmp_path / "recipe.toml"
    path.write_text('name = "t"\ntask = "t"\nmethod = "3d"\n[dataset]\ngenerator = "volumetric_mnist"\n')
    assert cli.main(["train", str(path), "--devices", "2", "--run-dir", str(tmp_path / "r")]) == 2
    error = capsys.readouterr().err
    assert "[training] batch_size = 1 does not split evenly over 2 devices" in error
    assert "--set training.batch_size=2" in error and not (tmp_path / "r").exists()


def test_cli_rejects_a_non_positive_device_count(tmp_path, capsys):
    path = tmp_path / "recipe.toml"
    path.write_text('name = "t"\ntask = "t"\nmethod = "3d"\n[dataset]\ngenerator = "volumetric_mnist"\n')
    assert cli.main(["train", str(path), "--devices", "0", "--run-dir", str(tmp_path / "r")]) == 2
    assert "--devices must be a positive integer (devices per host), found 0" in capsys.readouterr().err


# ------------------------------------------------------------------------------- training
RECIPE = """\
name = "tiny-dp"
task = "tiny"
method = "2d-const"

[dataset]
generator = "synthetic_street"
n = 6
frames = 8
height = 16
width = 16
seed = 0

[model]
clip_length = 4
filters = 4
num_blocks = 1
discriminator_filters = 4
discriminator_layers = 2

[training]
steps = 3
chunk = 1
pool_size = 2
sample_every = 0
"""
# 2D: JAX compiles Conv3D slowly on CPU, and 3D runs the same train_step (the one rank-specific
# piece of distribution, the temporal penalty's gather over a split sequence, is 2D's). Method
# "2d-const": global batches of 4 consecutive frames, 2 per device, with the temporal penalty on;
# the pool (2) fills and swaps in the first step. Street clips, not digits: on mostly-black
# digit clips the first convolutions' kernel gradients are tiny remainders of large sums that
# the instance norm makes cancel, so float rounding alone moves them by up to 5% on ONE device
# (whole batch at once vs one clip at a time, measured after a step). On these clips that floor
# is ~1e-5 of the largest gradient.


@pytest.fixture(scope="session")
def jax_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("jax-cache")


@pytest.fixture(scope="module")
def recipe_runs(tmp_path_factory, jax_cache):
    """Per backend, one worker process: the recipe on 1 device, and across device counts."""
    runs = {}

    def get(backend):
        if backend not in runs:
            out = tmp_path_factory.mktemp(f"recipe-{backend}")
            (out / "recipe.toml").write_text(RECIPE)
            runs[backend] = _worker(backend, out, "recipe", jax_cache=jax_cache)
            # The runs: one, one_then_two, two, two_then_one.
            assert list(runs[backend]["replicas"]) == [1, 2, 2, 1], runs[backend]["replicas"]
        return runs[backend]

    return get


@pytest.mark.parametrize("backend", DP_BACKENDS)
def test_two_devices_train_what_one_device_trains(backend, recipe_runs):
    results = recipe_runs(backend)
    # Step 1 from the same fresh weights (the pool fills and swaps in it), ...
    what = f"{backend}, step 1 on 2 devices vs 1"
    _check_same_losses(results, "one_step1", "two_step1", what)
    _check_same_weights(results, "one_step1", "two_step1", "start", TOLERANCE, what)
    # ... and steps 2-3 on 2 devices from the weights, optimizer, pools and RNG of one device's step 1.
    what = f"{backend}, steps 2-3 on 2 devices vs 1"
    _check_same_losses(results, "one", "one_then_two", what)
    _check_same_weights(results, "one", "one_then_two", "start", TOLERANCE, what)


@pytest.mark.parametrize("backend", DP_BACKENDS)
def test_a_two_device_checkpoint_resumes_on_one_device(backend, recipe_runs):
    # (one_then_two above is the other way round.) Steps 2-3 on 1 device from the 2-device run's
    # step-1 checkpoint, against the 2-device run going on.
    results = recipe_runs(backend)
    what = f"{backend}, steps 2-3 on 1 device vs 2 from a 2-device checkpoint"
    _check_same_losses(results, "two", "two_then_one", what)
    _check_same_weights(results, "two", "two_then_one", "start", TOLERANCE, what)


@pytest.mark.skipif("tensorflow" not in DP_BACKENDS, reason="needs tensorflow")
def test_the_3d_model_on_two_tensorflow_devices_trains_what_one_device_trains(tmp_path):
    # The project's model (Conv3D over clips, a global batch of 2 clips, 1 per device), one step
    # from the same fresh weights. TensorFlow only: JAX compiles Conv3D for minutes on CPU.
    # Measured: 2.0e-7 in the weights, 4.9e-6 of the largest update.
    (tmp_path / "recipe.toml").write_text(RECIPE.replace('method = "2d-const"', 'method = "3d"')
                                          .replace("[training]\n", "[training]\nbatch_size = 2\n"))
    results = _worker("tensorflow", tmp_path, "step1")
    assert list(results.pop("replicas")) == [1, 2]
    what = "tensorflow, 3D, step 1 on 2 devices vs 1"
    logs = [k for k in results if k.startswith("one/log/")]
    assert "one/log/g_loss" in logs and "one/log/d_loss" in logs
    _check_same_losses(results, "one", "two", what, count=len(logs))
    _check_same_weights(results, "one", "two", "start", TOLERANCE, what)


@pytest.mark.skipif("tensorflow" not in DP_BACKENDS, reason="needs tensorflow")
def test_keras_v2v_train_devices_2_on_tensorflow_splits_the_cpu_itself(tmp_path):
    # What a user runs: no logical devices made beforehand (TensorFlow can split its CPU only
    # before its first operation, and the TensorBoard writer is one), TensorBoard logs, a sample
    # GIF (the model called during a distributed fit) and the preset after the run. (JAX's
    # equivalent, jax_num_cpu_devices without XLA_FLAGS, is set up the same way in `scope`.)
    env = _environment("tensorflow", 1)
    env.pop("V2V_TEST_CPUS")
    (tmp_path / "recipe.toml").write_text(RECIPE)
    run_dir = tmp_path / "run"
    command = [sys.executable, "-m", "keras_v2v.cli", "train", str(tmp_path / "recipe.toml"), "--devices", "2",
               "--run-dir", str(run_dir), "--no-evaluate", "--set", "training.steps=1",
               "--set", "training.sample_every=1",
               "--set", "distribution.threads_per_op=1", "--set", "distribution.ops_at_once=2"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    # The threads, like the devices, are set before TensorFlow's first operation.
    assert "threads: 1 per operation, 2 operations at once (tensorflow)" in result.stdout
    assert "not applied" not in result.stderr
    assert "data-parallel training: tensorflow: tf.distribute.MirroredStrategy over 2 device(s)" in result.stdout
    assert os.listdir(run_dir / "samples") == ["step-0000001.gif"] and os.listdir(run_dir / "logs")
    assert (run_dir / "preset" / "keras_v2v.json").exists() and (run_dir / "checkpoint-0000001.keras").exists()


@pytest.mark.parametrize("backend", DP_BACKENDS)
def test_two_processes_train_one_model_over_loopback(backend, recipe_runs, jax_cache, tmp_path):
    if backend == "jax":
        port = _free_port()
        environments = [_environment("jax", 1, jax_cache, KERAS_DISTRIBUTION_JOB_ADDRESSES=f"127.0.0.1:{port}",
                                     KERAS_DISTRIBUTION_NUM_PROCESSES="2", KERAS_DISTRIBUTION_PROCESS_ID=str(host))
                        for host in range(2)]
    else:
        workers = [f"127.0.0.1:{_free_port()}" for _ in range(2)]
        environments = [_environment("tensorflow", 1, TF_CONFIG=json.dumps(
            {"cluster": {"worker": workers}, "task": {"type": "worker", "index": host}})) for host in range(2)]
    (tmp_path / "recipe.toml").write_text(RECIPE)
    hosts = [subprocess.Popen([sys.executable, WORKER, str(tmp_path), "host"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for env in environments]
    try:
        outputs = [host.communicate(timeout=900) for host in hosts]
    finally:
        for host in hosts:
            if host.poll() is None:
                host.kill()
    for index, (host, (_, err)) in enumerate(zip(hosts, outputs)):
        assert host.returncode == 0, f"{backend} host {index} failed:\n{err[-4000:]}"
    plan = json.loads((tmp_path / "host1.json").read_text())["plan"]
    assert plan.startswith(f"{backend}: {'keras.distribution.DataParallel' if backend == 'jax' else 'tf.distribute'}")
    assert plan.endswith("on each of 2 hosts (this is host 1)")
    # Both hosts end with the same model, bit for bit, trained with 2 replicas; only host 0
    # wrote the run folder.
    weights = [dict(np.load(tmp_path / f"host{i}.npz")) for i in range(2)]
    assert [list(w.pop("replicas")) for w in weights] == [[2], [2]]
    assert len(weights[0]) > 80
    for key, value in weights[0].items():
        np.testing.assert_array_equal(weights[1][key.replace("host0", "host1", 1)], value, err_msg=key)
    assert sorted(name for name in os.listdir(tmp_path / "run") if name.endswith(".keras")) == [
        "checkpoint-0000003.keras"]
    # And it is the model one process trains on 2 devices from the same batches.
    results = {**recipe_runs(backend), **weights[0]}
    _check_same_weights(results, "two", "host0", "start", TOLERANCE, f"{backend}, 2 hosts vs 2 devices of one host")

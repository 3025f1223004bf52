"""The package's shape: no import cycles, dependencies that follow the data flow, light imports."""

import ast
import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "keras_v2v")
FIXTURES = os.path.join(ROOT, "tests", "fixtures")

# What each room may import (besides itself). The data flows data -> fit ->
# preset folder -> from_pretrained -> translate; presets read and write folders
# through Keras' serialization registry, so they need no model code, and
# models use them only for `save_pretrained` / `push_to_hub`.
ALLOWED = {
    "utils": set(),
    "data": {"utils"},
    "evaluation": {"data", "utils"},
    "metrics": {"evaluation"},
    "presets": {"utils"},
    "models": {"presets", "utils"},
    "training": {"data", "models", "presets", "evaluation", "utils"},
    "demo": {"data", "presets", "models", "evaluation", "utils"},
    # Serving sits after from_pretrained: it exports a preset's generator and runs
    # the exported graph through models' sliding windows; nothing imports it back.
    "serving": {"presets", "models", "utils"},
    "cli": {"data", "models", "presets", "evaluation", "training", "demo", "serving", "utils"},
}


def _module_name(path):
    rel = os.path.relpath(path, ROOT)[: -len(".py")].replace(os.sep, ".")
    return rel[: -len(".__init__")] if rel.endswith(".__init__") else rel


def _exists(module):
    base = os.path.join(ROOT, *module.split("."))
    return os.path.isfile(base + ".py") or os.path.isfile(os.path.join(base, "__init__.py"))


def import_graph():
    """{module: set of keras_v2v modules it imports}, function-level imports included."""
    graph = {}
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(folder, name)
            module = _module_name(path)
            package = module if name == "__init__.py" else module.rpartition(".")[0]
            edges = set()
            for node in ast.walk(ast.parse(open(path).read(), path)):
                if isinstance(node, ast.Import):
                    targets = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    base = node.module or ""
                    if node.level:
                        base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + [base])
                    targets = [f"{base}.{alias.name}" if _exists(f"{base}.{alias.name}") else base
                               for alias in node.names]
                else:
                    continue
                edges |= {t.strip(".") for t in targets if t.startswith("keras_v2v")}
            graph[module] = edges - {module}
    return graph


def _cycles(graph):
    """Every cycle found by depth-first search, as lists of modules."""
    found, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack)
        stack.pop()
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    return found


def _room(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_no_import_cycles():
    graph = import_graph()
    assert len(graph) > 40 and "keras_v2v.models.cyclegan" in graph
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def test_no_module_reaches_back_up_the_flow():
    wrong = []
    for module, imports in import_graph().items():
        room = _room(module)
        if room is None:
            continue  # the package's lazy facade
        for target in imports:
            other = _room(target)
            if other not in (None, room) and other not in ALLOWED[room]:
                wrong.append(f"{module} imports {target}")
    assert wrong == []


def test_no_module_is_over_600_lines():
    long = []
    for folder, _, files in os.walk(PACKAGE):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                lines = sum(1 for _ in open(path))
                if lines > 600:
                    long.append(f"{os.path.relpath(path, ROOT)}: {lines}")
    assert long == []


def _run(code, **env):
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                            env={**os.environ, **env}, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return result


BACKENDS = ("tensorflow", "jax", "torch", "keras")


def test_data_evaluation_and_preset_listing_import_no_backend():
    code = (
        "import sys, json\n"
        "import keras_v2v, keras_v2v.data, keras_v2v.evaluation, keras_v2v.metrics, keras_v2v.presets\n"
        "import keras_v2v.training.recipes\n"
        "keras_v2v.presets.list_pretrained()\n"
        "keras_v2v.data.coloured_moving_mnist(n=1, frames=2, size=32)\n"
        f"print(json.dumps([m for m in {BACKENDS!r} if m in sys.modules]))\n"
    )
    assert json.loads(_run(code).stdout.strip().splitlines()[-1]) == []


@pytest.mark.parametrize("argv", [["--help"], ["list"], ["info", "vmnist-sph2sand-3d"], ["translate", "--help"]])
def test_light_cli_verbs_import_no_backend_and_print_nothing_on_stderr(argv):
    code = (
        "import sys, json\n"
        "from keras_v2v import cli\n"
        "try:\n"
        f"    cli.main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(json.dumps([m for m in {BACKENDS!r} if m in sys.modules]))\n"
    )
    result = _run(code)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
    assert result.stderr == ""


def test_model_verbs_keep_tensorflow_start_up_logs_off_stderr(tmp_path):
    out = tmp_path / "out.mp4"
    result = subprocess.run(
        [sys.executable, "-m", "keras_v2v.cli", "translate", os.path.join(ROOT, "examples", "media", "vmnist_spherical.mp4"),
         str(out), "--model", "vmnist-sph2sand-3d", "--quiet"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "KERAS_V2V_TF_LOGS")},
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == "" and out.exists()


@pytest.mark.parametrize("keras_first", [True, False])
def test_import_keras_v2v_registers_the_classes_for_plain_keras_loading(keras_first):
    imports = "import keras\nimport keras_v2v\n" if keras_first else "import keras_v2v\nimport keras\n"
    code = imports + (
        f"model = keras.saving.load_model({os.path.join(ROOT, 'zoo', 'vmnist-sph2sand-3d')!r})\n"
        "print(type(model).__name__, model.rank)\n"
    )
    assert _run(code).stdout.strip().splitlines()[-1] == "CycleGAN 3"


def test_a_checkpoint_saved_before_the_layout_change_still_loads_and_resumes():
    import keras

    import keras_v2v  # noqa: F401

    model = keras.saving.load_model(os.path.join(FIXTURES, "old_tiny_3d.keras"))
    expected = np.load(os.path.join(FIXTURES, "old_tiny_3d_expected.npz"))
    assert int(model.optimizer.iterations.numpy()) == int(expected["step"])
    # overlap=0: the windows the fixture was written with (before translate mirrored a long video's ends).
    out = model.translate(expected["clip"], overlap=0)
    np.testing.assert_allclose(out.astype(int), expected["out"].astype(int), atol=1)
    assert model.loss_config["pool_size"] == 2 and model.pool_a.count.numpy() == 2


def test_the_public_api_is_unchanged():
    import keras_v2v as v2v

    for name in ("cyclegan_3d", "cyclegan_2d", "CycleGAN", "from_pretrained", "list_pretrained",
                 "HoldThenLinearDecay", "InstanceNormalization", "ReflectionPadding", "ResidualBlock",
                 "HistoryPool", "patchgan_discriminator", "resnet_generator"):
        assert getattr(v2v, name) is not None, name
    for name in ("read_video", "write_video", "UnpairedVideoDataset", "volumetric_mnist", "read_volume"):
        assert getattr(v2v.data, name) is not None, name
    for name in ("evaluate_table1", "evaluate_table2", "evaluate_table4", "shape_l2", "temporal_flicker"):
        assert getattr(v2v.metrics, name) is getattr(v2v.evaluation, name)

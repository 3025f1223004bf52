import os

# Tests default to TensorFlow; tests/test_backends.py reruns the
# model tests under JAX and PyTorch in subprocesses.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seed_and_policy():
    keras.utils.set_random_seed(1234)
    keras.config.set_dtype_policy("float32")
    yield
    keras.config.set_dtype_policy("float32")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="session", autouse=True)
def _every_card_a_test_writes_round_trips(tmp_path_factory):
    """After the session: each model card keras-v2v wrote under the tests' tmp folders loads as the Hub loads it."""
    yield
    import json

    from helpers import card_round_trip, is_keras_v2v_card

    bad = []
    for root, _, files in os.walk(tmp_path_factory.getbasetemp()):
        if "README.md" not in files or "keras_v2v.json" not in files:
            continue
        path = os.path.join(root, "README.md")
        if not is_keras_v2v_card(path):
            continue
        try:
            metadata, name, results = card_round_trip(path)
            try:
                with open(os.path.join(root, "keras_v2v.json")) as handle:
                    spec = json.load(handle)
            except ValueError:  # a test damaged it on purpose; the card is still checked
                spec = {}
            spec = spec if isinstance(spec, dict) else {}
            assert metadata.get("library_name") == "keras", metadata.get("library_name")
            if spec.get("evaluation"):
                assert name == str(spec.get("name", name)) and results, (name, results)
            assert not [r.metric_type for r in results if r.metric_type.startswith(("gt_", "num_"))]
        except Exception as error:  # report them all at once
            bad.append(f"{path}: {type(error).__name__}: {error}")
    assert not bad, "cards that do not round-trip through huggingface_hub:\n" + "\n".join(bad)

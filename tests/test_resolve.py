"""`hf://org/repo` and `org/repo` name the same Hub preset: online, offline, any revision.

Online means the local stand-in of the Hub API (tests/hub_standin.py, on
127.0.0.1); offline means HF_HUB_OFFLINE=1 and the Hugging Face cache the
online calls filled. No other socket is allowed.
"""

import os
import socket

import numpy as np
import pytest
from helpers import all_weights, tiny_3d
from hub_standin import HubStandIn

import keras_v2v as v2v
from keras_v2v.presets import publish, registry
from keras_v2v.presets.storage import WEIGHTS_FILE, sha256_of

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKEN = "hf_standin_write_token"
REPO = "standin-user/tiny-preset"


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """An empty zoo and HF cache under tmp_path, online, and no socket beyond 127.0.0.1."""
    import huggingface_hub.constants as constants

    monkeypatch.setenv("KERAS_V2V_ZOO", str(tmp_path / "empty-zoo"))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    connect = socket.socket.connect

    def loopback_only(sock, address):
        host = address[0] if isinstance(address, tuple) else address
        if sock.family in (socket.AF_INET, socket.AF_INET6) and host not in ("127.0.0.1", "::1", "localhost"):
            raise OSError(f"test tried to reach {address}: only the 127.0.0.1 stand-in is allowed")
        return connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", loopback_only)


@pytest.fixture
def hub(monkeypatch):
    with HubStandIn() as standin:
        monkeypatch.setenv("HF_ENDPOINT", standin.endpoint)
        yield standin


def go_offline(monkeypatch):
    import huggingface_hub.constants as constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)


@pytest.fixture(scope="module")
def revisions(tmp_path_factory):
    """Two different tiny presets: what main and the branch v1 will hold."""
    root = tmp_path_factory.mktemp("revisions")
    models = {}
    for revision, seed in (("main", 1), ("v1", 2)):
        import keras

        keras.utils.set_random_seed(seed)
        models[revision] = tiny_3d()
        models[revision].save_pretrained(root / revision)
    return root, models


def _push_both(hub, root):
    publish.push_to_hub(root / "main", REPO, token=TOKEN, endpoint=hub.endpoint)
    publish.push_to_hub(root / "v1", REPO, token=TOKEN, endpoint=hub.endpoint, revision="v1")


@pytest.mark.parametrize("revision", [None, "main", "v1"])
def test_hf_url_and_repo_id_resolve_to_the_same_snapshot_online_and_offline(hub, revisions, revision, monkeypatch):
    root, models = revisions
    _push_both(hub, root)
    wanted = sha256_of(root / (revision or "main") / WEIGHTS_FILE)

    online = {name: registry.resolve(name, revision=revision) for name in (f"hf://{REPO}", REPO)}
    folders = {folder for folder, _, _ in online.values()}
    assert len(folders) == 1  # one snapshot in the cache, whichever way it was named
    folder = folders.pop()
    assert sha256_of(os.path.join(folder, WEIGHTS_FILE)) == wanted
    assert {expected for _, expected, _ in online.values()} == {None}  # not registered: its own record
    assert [label for _, _, label in online.values()] == [f"hf://{REPO}", REPO]

    # Offline, both spellings find that snapshot in the cache, without a request.
    go_offline(monkeypatch)
    sent = len(hub.requests)
    for name in (f"hf://{REPO}", REPO):
        assert registry.resolve(name, revision=revision)[0] == folder
        loaded = v2v.from_pretrained(name, revision=revision)
        for ours, theirs in zip(all_weights(models[revision or "main"]), all_weights(loaded)):
            np.testing.assert_array_equal(ours, theirs)
    assert len(hub.requests) == sent


def test_offline_miss_is_the_same_message_for_both_spellings(hub, revisions, monkeypatch):
    root, _ = revisions
    _push_both(hub, root)
    registry.resolve(REPO)  # caches main only
    go_offline(monkeypatch)
    for name in (f"hf://{REPO}", REPO):
        with pytest.raises(registry.PresetNotFoundError) as error:
            registry.resolve(name, revision="v1")
        message = str(error.value)
        assert message.startswith(f"{name}: weights are not bundled and not in the Hugging Face cache")
        assert "HF_HUB_OFFLINE" in message and f"hf download {REPO}" in message and "\n" not in message


def test_a_registered_preset_named_by_its_repo_is_held_to_the_registry_checksum(hub):
    entry = registry.load_registry()["vmnist-sph2sand-3d"]
    publish.push_to_hub(os.path.join(ROOT, "zoo", "vmnist-sph2sand-3d"), entry["hub_repo"], token=TOKEN,
                        endpoint=hub.endpoint)
    for name in (f"hf://{entry['hub_repo']}", entry["hub_repo"], "vmnist-sph2sand-3d"):
        for revision in (None, "main"):
            folder, expected, _ = registry.resolve(name, revision=revision)
            assert expected == entry["sha256"] == sha256_of(os.path.join(folder, WEIGHTS_FILE)), name


@pytest.mark.parametrize("name", ["hf://", "hf://org", "hf://org/", "hf:///repo", "hf://a/b/c"])
def test_malformed_hf_urls_say_what_is_expected(name):
    with pytest.raises(registry.PresetNotFoundError, match="expected hf://ORG/NAME") as error:
        registry.resolve(name)
    assert repr(name) in str(error.value)


def test_hub_error_is_one_line_naming_the_repo(hub):
    with pytest.raises(registry.PresetNotFoundError) as error:
        registry.resolve("hf://standin-user/never-pushed")
    message = str(error.value)
    assert message.startswith("hf://standin-user/never-pushed: could not download standin-user/never-pushed")
    assert "HTTP 404, no such repo" in message and "\n" not in message

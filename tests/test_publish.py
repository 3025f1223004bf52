"""push_to_hub / publish, against a local stand-in of the Hub API (tests/hub_standin.py).

Nothing here reaches the network: the stand-in listens on 127.0.0.1 and a
guard refuses any other socket connection for the duration of each test.
"""

import argparse
import hashlib
import json
import os
import shutil
import socket

import numpy as np
import pytest
from helpers import all_weights, tiny_3d
from hub_standin import HubStandIn

import keras_v2v as v2v
from keras_v2v.presets import publish
from keras_v2v.presets.storage import PRESET_FILE, WEIGHTS_FILE, read_preset_spec, sha256_of

TOKEN = "hf_standin_write_token"
EXTRAS = {"recipe.toml": b"[train]\nepochs = 1\n", "LICENSE-DATA.md": b"# Data licence\nCC-BY-4.0\n"}
PRESET_FILES = sorted(["README.md", "config.json", "keras_v2v.json", "metadata.json", "model.weights.h5", *EXTRAS])


@pytest.fixture(autouse=True)
def offline(tmp_path, monkeypatch):
    """No telemetry, no stored token, no cache outside tmp_path, no socket beyond 127.0.0.1."""
    import huggingface_hub.constants as hf_constants

    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setattr(hf_constants, "HF_HUB_DISABLE_TELEMETRY", True)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    # huggingface_hub read HF_HOME at import: point its token file at tmp_path too.
    monkeypatch.setattr(hf_constants, "HF_TOKEN_PATH", str(tmp_path / "hf_home" / "token"))
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)

    connect = socket.socket.connect

    def loopback_only(sock, address):
        host = address[0] if isinstance(address, tuple) else address
        if sock.family in (socket.AF_INET, socket.AF_INET6) and host not in ("127.0.0.1", "::1", "localhost"):
            raise OSError(f"test tried to reach {address}: only the 127.0.0.1 stand-in is allowed")
        return connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", loopback_only)


@pytest.fixture
def hub():
    with HubStandIn() as server:
        yield server


@pytest.fixture(scope="module")
def model():
    return tiny_3d()


@pytest.fixture(scope="module")
def preset_source(model, tmp_path_factory):
    folder = tmp_path_factory.mktemp("zoo") / "tiny-3d"
    model.save_pretrained(folder)
    for name, data in EXTRAS.items():
        (folder / name).write_bytes(data)
    # Never uploaded: hidden files and caches.
    (folder / ".DS_Store").write_bytes(b"junk")
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"junk")
    return folder


@pytest.fixture
def preset(preset_source, tmp_path):
    """A private copy, so a test may tamper with it."""
    return shutil.copytree(preset_source, tmp_path / "tiny-3d")


def local_files(folder):
    return {name: (folder / name).read_bytes() for name in PRESET_FILES}


def test_upload_list_is_exactly_the_preset(preset):
    files = publish.check_preset_folder(preset)
    assert files == PRESET_FILES
    card = (preset / "README.md").read_text()
    front = card.split("---\n")[1]
    assert card.startswith("---\n") and "library_name: keras" in front and "- keras-v2v" in front
    assert read_preset_spec(preset)["sha256"][WEIGHTS_FILE] == sha256_of(preset / WEIGHTS_FILE)


@pytest.mark.parametrize(
    "damage, expected",
    [
        (lambda f: (f / "config.json").unlink(), "missing config.json"),
        (lambda f: (f / "README.md").write_text("# no metadata\n"), "YAML front matter"),
        (
            lambda f: (f / "README.md").write_text("---\nlibrary_name: pytorch\n---\n# card\n"),
            "expected 'library_name: keras' in the YAML front matter, found 'library_name: pytorch'",
        ),
        (lambda f: (f / PRESET_FILE).write_text("{not json"), "expected JSON"),
    ],
)
def test_incomplete_preset_is_refused_with_the_file_named(preset, damage, expected):
    damage(preset)
    with pytest.raises(ValueError, match="tiny-3d") as error:
        publish.check_preset_folder(preset)
    assert expected in str(error.value)


@pytest.mark.parametrize("xet", [True, False], ids=["xet-client", "plain-commit-client"])
def test_push_folder_then_download_it_back(preset, hub, tmp_path, monkeypatch, xet):
    import huggingface_hub
    import huggingface_hub._upload_pipeline as pipeline
    import huggingface_hub.constants as hf_constants

    # With hf_xet installed upload_folder takes the pipelined (Xet-capable)
    # path, without it create_commit: cover both, and check which one ran.
    monkeypatch.setattr(hf_constants, "HF_HUB_DISABLE_XET", not xet)
    pipelined, real = [], pipeline.pipelined_upload
    monkeypatch.setattr(pipeline, "pipelined_upload", lambda *a, **k: pipelined.append(1) or real(*a, **k))
    info = publish.push_to_hub(preset, "standin-user/tiny-3d", private=True, token=TOKEN, endpoint=hub.endpoint)

    assert hub.repos["standin-user/tiny-3d"].private is True
    remote = hub.files("standin-user/tiny-3d")
    remote.pop(".gitattributes")  # written by the Hub when it creates a repo
    assert remote == local_files(preset)  # every file, byte for byte; nothing hidden
    assert info.oid == hub.repos["standin-user/tiny-3d"].branches["main"]
    assert info.commit_url == f"{hub.endpoint}/standin-user/tiny-3d/commit/{info.oid}"
    assert set(hub.auth_headers()) == {f"Bearer {TOKEN}"}
    paths = [path for _, path, _ in hub.requests]
    assert paths[0] == "/api/repos/create" and paths[-1] == "/api/models/standin-user/tiny-3d/commit/main"
    assert "/api/validate-yaml" in paths and bool(pipelined) is xet

    # Round trip through the real download client, into a cache under tmp_path.
    snapshot = huggingface_hub.snapshot_download(
        "standin-user/tiny-3d", endpoint=hub.endpoint, token=TOKEN, cache_dir=tmp_path / "cache"
    )
    for name, data in local_files(preset).items():
        with open(os.path.join(snapshot, name), "rb") as handle:
            assert handle.read() == data, name


def test_push_model_object_and_load_it_back(model, hub, tmp_path):
    import huggingface_hub

    info = publish.push_to_hub(model, "my-org/tiny", token=TOKEN, endpoint=hub.endpoint)

    repo = hub.repos["my-org/tiny"]
    assert repo.private is False
    assert repo.commits[info.oid].message == f"Upload {model.name} with keras-v2v"
    remote = hub.files("my-org/tiny")
    assert sorted(remote) == sorted([".gitattributes", *set(PRESET_FILES) - set(EXTRAS)])
    spec = json.loads(remote[PRESET_FILE])
    assert hashlib.sha256(remote[WEIGHTS_FILE]).hexdigest() == spec["sha256"][WEIGHTS_FILE]

    snapshot = huggingface_hub.snapshot_download("my-org/tiny", endpoint=hub.endpoint, cache_dir=tmp_path / "c")
    loaded = v2v.from_pretrained(snapshot)
    ours, theirs = all_weights(model), all_weights(loaded)
    assert len(ours) == len(theirs) > 0
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(a, b)


def test_push_to_a_branch_leaves_main_alone(preset, hub):
    publish.push_to_hub(
        preset,
        "standin-user/tiny-3d",
        token=TOKEN,
        endpoint=hub.endpoint,
        revision="v1",
        commit_message="first release",
    )
    repo = hub.repos["standin-user/tiny-3d"]
    assert sorted(hub.files("standin-user/tiny-3d")) == [".gitattributes"]
    assert sorted(hub.files("standin-user/tiny-3d", "v1")) == sorted([".gitattributes", *PRESET_FILES])
    assert repo.commits[repo.branches["v1"]].message == "first release"


def test_bad_token_is_one_clear_line(preset, hub):
    with pytest.raises(OSError) as error:
        publish.push_to_hub(preset, "standin-user/tiny-3d", token="bad-token", endpoint=hub.endpoint)
    message = str(error.value)
    assert isinstance(error.value, publish.PublishError) and "\n" not in message
    assert "standin-user/tiny-3d" in message and "HTTP 401" in message and "hf auth login" in message
    assert hub.repos == {}


def test_no_token_at_all_is_401_too(preset, hub):
    with pytest.raises(publish.PublishError, match="HTTP 401.*token missing or invalid"):
        publish.push_to_hub(preset, "standin-user/tiny-3d", endpoint=hub.endpoint)


def test_unreachable_hub_is_one_line(preset):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(publish.PublishError, match="could not reach http://127.0.0.1"):
        publish.push_to_hub(preset, "standin-user/tiny-3d", token=TOKEN, endpoint=f"http://127.0.0.1:{port}")


@pytest.mark.parametrize(
    "repo_id",
    ["tiny-3d", "a/b/c", "", "/tiny", "owner/", "-owner/x", "owner/na me", "owner/x--y", "owner/x..y", "owner/x.git"],
)
def test_invalid_repo_id_is_refused_before_any_request(preset, hub, repo_id):
    with pytest.raises(ValueError, match="owner/name"):
        publish.push_to_hub(preset, repo_id, token=TOKEN, endpoint=hub.endpoint)
    assert hub.requests == []


def test_tampered_weights_are_refused_before_any_request(preset, hub):
    weights = preset / WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"model\.weights\.h5: sha256 .* does not match"):
        publish.push_to_hub(preset, "standin-user/tiny-3d", token=TOKEN, endpoint=hub.endpoint)
    assert hub.requests == []


def _args(folder, repo, endpoint, **kw):
    values = {
        "folder": str(folder),
        "repo": repo,
        "private": False,
        "token": TOKEN,
        "revision": None,
        "endpoint": endpoint,
        "dry_run": False,
    }
    return argparse.Namespace(**{**values, **kw})


def test_publish_command_dry_run_lists_files_and_sends_nothing(preset, hub, capsys):
    publish.publish_command(_args(preset, "standin-user/tiny-3d", hub.endpoint, dry_run=True, private=True))
    out = capsys.readouterr().out
    assert "standin-user/tiny-3d" in out and "private" in out and "nothing was sent" in out
    listed = [line.split()[-1] for line in out.splitlines()[1:]]
    assert listed == PRESET_FILES
    assert f"{(preset / 'recipe.toml').stat().st_size} B  recipe.toml" in out
    assert hub.requests == [] and hub.repos == {}


def test_publish_command_uploads_and_prints_the_url(preset, hub, capsys):
    publish.publish_command(_args(preset, "standin-user/tiny-3d", hub.endpoint))
    out = capsys.readouterr().out
    oid = hub.repos["standin-user/tiny-3d"].branches["main"]
    assert f"{hub.endpoint}/standin-user/tiny-3d" in out
    assert f"{hub.endpoint}/standin-user/tiny-3d/commit/{oid}" in out

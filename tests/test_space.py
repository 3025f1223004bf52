"""`keras-v2v space OUT_DIR`: a Space folder that runs the demo from its own files alone.

The end-to-end test starts the folder's app.py in a subprocess (cwd = the
folder, no PYTHONPATH, KERAS_V2V_ZOO pointing nowhere, HF_HUB_OFFLINE=1, an
empty Hugging Face cache) and drives it with gradio_client over 127.0.0.1.
"""

import fnmatch
import importlib.metadata
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

gradio_client = pytest.importorskip("gradio_client")
pytest.importorskip("gradio")

from keras_v2v import cli, data, demo  # noqa: E402
from keras_v2v.demo import space  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
START_DEADLINE_S = 400  # a deadline for a busy machine, not a measurement


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("spaces") / "my-space"
    written, entries = space.write_space(str(out), ["vmnist-sph2sand-3d", "mnist-colorize-3d"])
    assert written == str(out)
    return out


def test_the_folder_holds_everything_the_space_needs(folder):
    names = json.loads((folder / "space.json").read_text())["presets"]
    # Each 3D preset brought its framewise baseline, for the demo's plot.
    assert list(names) == ["vmnist-sph2sand-3d", "mnist-colorize-3d", "vmnist-sph2sand-2d-random",
                           "mnist-colorize-2d-random"]
    assert names["vmnist-sph2sand-3d"]["baseline"] == "vmnist-sph2sand-2d-random"
    for name, entry in names.items():
        assert (folder / entry["path"] / "model.weights.h5").is_file()
        assert (folder / entry["sample_clip"]).is_file()
    # app.py is the repository's apps/app.py, and the package it imports is beside it.
    assert (folder / "app.py").read_text() == open(os.path.join(ROOT, "apps", "app.py")).read() == space.APP_PY
    assert (folder / "keras_v2v" / "demo" / "space.py").is_file()
    assert not [p for p in folder.rglob("*") if p.name == "__pycache__" or p.suffix == ".pyc"]

    pins = dict(line.split("==") for line in (folder / "requirements.txt").read_text().splitlines()
                if line and not line.startswith("#"))
    assert pins == {name: importlib.metadata.version(name) for name in pins}
    assert {"keras", "av", "numpy", "huggingface-hub", "pandas"} <= set(pins)
    assert "tensorflow-cpu" in pins or "tensorflow" in pins

    from huggingface_hub import SpaceCard

    card = SpaceCard.load(str(folder / "README.md")).data
    assert (card.sdk, card.sdk_version, card.app_file) == ("gradio", importlib.metadata.version("gradio"), "app.py")
    assert card.python_version == f"{sys.version_info.major}.{sys.version_info.minor}"

    # Every binary file is stored with LFS/Xet, as the Hub requires.
    patterns = [line.split()[0] for line in (folder / ".gitattributes").read_text().splitlines()
                if "filter=lfs" in line]
    assert "*.h5" in patterns
    binary = [p for p in folder.rglob("*") if p.suffix in (".h5", ".mp4", ".gif", ".keras")]
    assert binary and all(any(fnmatch.fnmatch(p.name, pat) for pat in patterns) for p in binary)


def test_it_refuses_a_folder_it_did_not_write(tmp_path, capsys):
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "todo.txt").write_text("keep me")
    assert cli.main(["space", str(mine), "--presets", "vmnist-sph2sand-2d-random"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and str(mine) in err and "did not write" in err
    assert sorted(os.listdir(mine)) == ["todo.txt"]
    (tmp_path / "file").write_text("x")
    with pytest.raises(space.SpaceError, match="is a file"):
        space.write_space(str(tmp_path / "file"), ["vmnist-sph2sand-2d-random"])
    with pytest.raises(space.SpaceError, match="expected a preset folder|Unknown preset"):
        space.write_space(str(tmp_path / "new"), [str(mine)])
    assert cli.main(["space", str(tmp_path / "new"), "--presets", "vmnist-sph2sand3d"]) == 2
    assert "Did you mean 'vmnist-sph2sand-3d'" in capsys.readouterr().err


def test_it_replaces_a_space_folder_it_wrote(tmp_path, capsys):
    out = tmp_path / "space"
    assert cli.main(["space", str(out), "--presets", "vmnist-sph2sand-2d-random"]) == 0
    assert cli.main(["space", str(out), "--presets", "phantom-mr2ct-3d"]) == 0
    assert sorted(os.listdir(out / "presets")) == ["phantom-mr2ct-3d"]
    assert "wrote Space" in capsys.readouterr().out


def _wait_until_serving(process, url, log):
    deadline = time.monotonic() + START_DEADLINE_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"app.py exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(1)
    pytest.fail(f"app.py did not serve {url} in time:\n{log.read_text()}")


def test_the_space_runs_from_its_folder_alone(folder, tmp_path):
    # A preset folder lost on the way (say, a partial upload): the page says so once.
    missing = "mnist-colorize-2d-random"
    for path in sorted((folder / "presets" / missing).rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    (folder / "presets" / missing).rmdir()

    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SPACE_ID")}
    env.update(KERAS_V2V_ZOO=str(tmp_path / "nowhere"), HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"),
               GRADIO_SERVER_NAME="127.0.0.1", GRADIO_SERVER_PORT=str(port), GRADIO_ANALYTICS_ENABLED="False",
               HF_HUB_DISABLE_TELEMETRY="1", GRADIO_TEMP_DIR=str(tmp_path / "gradio"))
    log = tmp_path / "space.log"
    with open(log, "w") as sink:
        process = subprocess.Popen([sys.executable, "app.py"], cwd=folder, env=env, stdout=sink,
                                   stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_until_serving(process, url, log)
        client = gradio_client.Client(url, verbose=False, download_files=str(tmp_path / "downloads"))
        clip = str(folder / "examples" / "vmnist_spherical.mp4")
        video, side, plot, status = client.predict(gradio_client.handle_file(clip), "vmnist-sph2sand-3d", "a2b",
                                                   api_name="/translate")
        path = video if isinstance(video, str) else video["video"]
        assert data.read_video(path).shape[:3] == (16, 64, 64)
        assert "Error" not in status and "2D baseline" in status
        assert {row[2] for row in plot["data"]} == {"input", "3D output", "2D baseline"}

        with urllib.request.urlopen(url + "config", timeout=30) as reply:
            config = json.load(reply)
        # (A preset's own description may name its 2D sibling too: only the notice counts here.)
        said = [c for c in config["components"]
                if isinstance(c.get("props", {}).get("value"), str) and missing in c["props"]["value"]
                and "Not available" in c["props"]["value"]]
        assert len(said) == 1 and "Not available in this Space" in said[0]["props"]["value"]
        dropdown = next(c for c in config["components"] if c["props"].get("elem_id") == "v2v-preset")
        choices = [c[1] if isinstance(c, (list, tuple)) else c for c in dropdown["props"]["choices"]]
        assert choices == ["vmnist-sph2sand-3d", "mnist-colorize-3d", "vmnist-sph2sand-2d-random"]
    finally:
        process.terminate()
        process.wait(timeout=60)
    text = log.read_text()
    assert "Traceback" not in text, text
    assert f"keras-v2v from {folder / 'keras_v2v'};" in text  # the folder's own copy, not an installed one
    assert sum(missing in line for line in text.splitlines()) == 1, text


def test_apps_on_a_space_without_weights_says_so_once_without_tracebacks(tmp_path, monkeypatch, caplog):
    import huggingface_hub.constants as constants

    # apps/ pushed alone: no space.json, no zoo, nothing published yet, no network.
    monkeypatch.setenv("KERAS_V2V_ZOO", str(tmp_path / "nowhere"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    demo.clear_model_cache()  # models an earlier test of this process loaded are not on the Space
    with caplog.at_level("WARNING"):
        app = space.folder_app(os.path.join(ROOT, "apps"), on_space=True)
    assert app.v2v_presets == {}
    said = [c["props"]["value"] for c in app.get_config_file()["components"]
            if "Could not load" in str(c["props"].get("value"))]
    assert len(said) == 1 and "vmnist-sph2sand-3d" in said[0] and "HF_HUB_OFFLINE" in said[0]
    assert not any(r.exc_info for r in caplog.records)
    from keras_v2v.presets import registry

    published = [n for n, e in registry.load_registry().items() if not e["recipe_only"]]
    assert len([r for r in caplog.records if r.getMessage().startswith("could not load preset")]) == len(published)

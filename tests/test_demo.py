"""The Gradio demo, served on localhost and driven with gradio_client.

Tiny random-weight presets (saved with save_pretrained into a tmp folder)
stand in for the zoo; clips are 12 frames of 48x48.
"""

import os
import socket
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

gr = pytest.importorskip("gradio")
gradio_client = pytest.importorskip("gradio_client")

import keras_v2v as v2v  # noqa: E402
from keras_v2v import data, demo  # noqa: E402

FRAMES, SIZE, FPS = 12, 48, 8


def moving_pattern(frames=FRAMES, height=SIZE, width=SIZE):
    """A smooth pattern drifting right: every frame differs, neighbours are close."""
    t = np.arange(frames)[:, None, None]
    y = np.arange(height)[None, :, None]
    x = np.arange(width)[None, None, :]
    base = (np.sin((x + 3 * t) / 5.0) * np.cos(y / 7.0) + 1.0) * 127.0
    return np.stack([base, 255 - base, np.broadcast_to(2 * x + 0 * t + 0 * y, base.shape)], -1).astype(np.uint8)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def presets(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo-presets")
    tiny = dict(filters=2, num_blocks=1, discriminator_filters=2, discriminator_layers=2)
    v2v.cyclegan_3d(input_shape=(8, 32, 32, 3), domains=("sphere", "sand"), **tiny).save_pretrained(root / "p3d")
    v2v.cyclegan_2d(input_shape=(32, 32, 3), domains=("sphere", "sand"), **tiny).save_pretrained(root / "p2d")
    clip = root / "example.mp4"
    data.write_video(str(clip), moving_pattern(), fps=FPS)
    return {
        # A list_pretrained-style entry, and a bare folder.
        "tiny-3d": {
            "path": str(root / "p3d"),
            "task": "test",
            "method": "3d",
            "baseline": "tiny-2d-random",
            "sample_clip": str(clip),
            "description": "random weights",
        },
        "tiny-2d-random": str(root / "p2d"),
    }


@pytest.fixture(scope="module")
def server(presets, tmp_path_factory):
    app = demo.launch(
        "127.0.0.1",
        free_port(),
        presets=presets,
        prevent_thread_lock=True,
        quiet=True,
    )
    client = gradio_client.Client(
        app.local_url,
        verbose=False,
        download_files=str(tmp_path_factory.mktemp("downloads")),
        analytics_enabled=False,
    )
    yield app, client
    app.close()


@pytest.fixture
def clip_path(tmp_path):
    path = tmp_path / "clip.mp4"
    data.write_video(str(path), moving_pattern(), fps=FPS)
    return str(path)


def video_path(value):
    return value if isinstance(value, str) else value["video"]


def translate(client, path, preset="tiny-3d", direction="a2b"):
    return client.predict(
        gradio_client.handle_file(path), preset, direction, api_name="/translate"
    )


def test_real_translation_over_http(server, clip_path):
    _, client = server
    output, side, plot, status = translate(client, clip_path)
    out = data.read_video(video_path(output))
    assert out.shape == (FRAMES, SIZE, SIZE, 3)
    assert out.std() > 1.0, "translation is a constant video"
    assert np.abs(np.diff(out.astype(np.float32), axis=0)).mean() > 0.1, "all frames are equal"
    both = data.read_video(video_path(side))
    assert both.shape[0] == FRAMES and both.shape[2] > 3 * SIZE  # input | 3D | 2D baseline
    assert "Error" not in status and "tiny-3d" in status and "2D baseline" in status
    # The plot holds three per-frame curves: input, 3D output, 2D baseline.
    table = plot.get("value", plot)  # {"columns": [...], "data": [[frame, change, series], ...]}
    assert table["columns"] == ["frame", "change", "series"]
    assert {row[2] for row in table["data"]} == {"input", "3D output", "2D baseline"}
    assert len(table["data"]) == 3 * (FRAMES - 1)


def test_other_direction_and_a_2d_preset(server, clip_path):
    _, client = server
    output, _, _, status = translate(client, clip_path, preset="tiny-2d-random", direction="b2a")
    assert data.read_video(video_path(output)).shape == (FRAMES, SIZE, SIZE, 3)
    assert "b -> a" in status or "sand -> sphere" in status


def test_bad_upload_gives_a_readable_message(server, tmp_path):
    _, client = server
    bad = tmp_path / "notes.mp4"
    bad.write_text("this is a text file, not a video\n" * 20)
    output, side, _, status = translate(client, str(bad))
    assert output is None and side is None
    assert "Could not read notes.mp4" in status and "Upload an mp4, webm, mov or gif" in status
    assert "Traceback" not in status and "/tmp" not in status
    # The upload check gives the same message before Translate is pressed.
    assert "Could not read notes.mp4" in client.predict(
        gradio_client.handle_file(str(bad)), api_name="/inspect"
    )


def test_eight_concurrent_requests_all_succeed(server, clip_path):
    _, client = server
    jobs = [
        client.submit(gradio_client.handle_file(clip_path), "tiny-3d", "a2b" if k % 2 else "b2a", api_name="/translate")
        for k in range(8)
    ]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda job: job.result(timeout=120), jobs))
    for output, _, _, status in results:
        assert "Error" not in status
        assert data.read_video(video_path(output)).shape == (FRAMES, SIZE, SIZE, 3)


def test_long_and_large_clip_is_cut_and_downscaled_with_a_notice(server, tmp_path):
    _, client = server
    # 12 frames at 1 fps = 12 s (over MAX_SECONDS) and 320 px wide (over MAX_SIDE).
    path = tmp_path / "long.mp4"
    data.write_video(str(path), moving_pattern(12, 64, 320), fps=1)
    output, _, _, status = translate(client, str(path))
    out = data.read_video(video_path(output))
    keep = int(demo.MAX_SECONDS)  # at 1 fps
    assert out.shape == (keep, 52, demo.MAX_SIDE, 3)  # 64 * 256 / 320 = 51.2 -> 52 (even)
    assert "Clip cut to its first 10 frames" in status
    assert "downscaled from 64x320 px (height x width) to 52x256 px (height x width)" in status


def test_gif_upload(server, tmp_path):
    _, client = server
    path = tmp_path / "clip.gif"
    data.write_video(str(path), moving_pattern(), fps=FPS)
    output, _, _, status = translate(client, str(path))
    assert "Error" not in status
    assert data.read_video(video_path(output)).shape == (FRAMES, SIZE, SIZE, 3)


def test_upload_size_limit_and_missing_upload(presets, tmp_path):
    table = demo.resolve_presets(presets)
    path = tmp_path / "clip.webm"
    data.write_video(str(path), moving_pattern(), fps=FPS)
    with pytest.raises(demo.DemoInputError, match="accepts uploads up to"):
        demo.translate_clip(str(path), "tiny-3d", presets=table, limits=demo.Limits(max_upload_mb=1e-4))
    with pytest.raises(demo.DemoInputError, match="Upload a clip"):
        demo.translate_clip(None, "tiny-3d", presets=table)
    with pytest.raises(demo.DemoInputError, match="Unknown preset"):
        demo.translate_clip(str(path), "nope", presets=table)


def test_a_clip_whose_passes_would_not_fit_is_refused_before_decoding(presets, tmp_path, monkeypatch):
    from keras_v2v.demo import core

    table = demo.resolve_presets(presets)
    path = tmp_path / "clip.mp4"
    data.write_video(str(path), moving_pattern(), fps=FPS)
    monkeypatch.setenv("KERAS_V2V_MAX_MEMORY", "1MiB")
    monkeypatch.setattr(core, "read_clip", lambda *args: pytest.fail("decoded before the memory check"))
    with pytest.raises(demo.DemoInputError, match=r"clip.mp4: translating .* over the limit of 1 MiB"):
        demo.translate_clip(str(path), "tiny-3d", presets=table)


def test_preset_table_and_helpers(presets):
    table = demo.resolve_presets(presets)
    assert table["tiny-3d"].baseline == "tiny-2d-random" and table["tiny-3d"].rank == 3
    assert table["tiny-2d-random"].baseline is None and table["tiny-2d-random"].domains == ("sphere", "sand")
    # A NAME-3d folder finds NAME-2d-random as its baseline by name.
    folders = {"x-3d": table["tiny-3d"].source, "x-2d-random": table["tiny-2d-random"].source}
    assert demo.resolve_presets(folders)["x-3d"].baseline == "x-2d-random"
    demo.preload(table)  # loads each preset once; later calls hit the cache
    assert demo.load_model(table["tiny-3d"].source) is demo.load_model(table["tiny-3d"].source)
    curve = demo.frame_changes(np.stack([np.zeros((4, 4, 3)), np.ones((4, 4, 3))]).astype(np.float32))
    np.testing.assert_allclose(curve, [1.0])
    assert "CPU" in demo.device_info() or "GPU" in demo.device_info()


def test_app_without_presets_and_the_space_entry_point(monkeypatch):
    app = demo.build_app(presets={})
    assert isinstance(app, gr.Blocks) and app.v2v_presets == {}
    assert "No presets are installed" in demo.app._preset_table({})
    # apps/app.py builds the app at import (what a Space and `gradio apps/app.py` run).
    import runpy

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    monkeypatch.delenv("SPACE_ID", raising=False)
    namespace = runpy.run_path(os.path.join(root, "apps", "app.py"), run_name="space_app")
    assert isinstance(namespace["demo"], gr.Blocks)
    assert demo.launch_kwargs(namespace["demo"])["max_file_size"] == demo.MAX_UPLOAD_MB * 2**20


def test_the_api_names_its_endpoints_and_hides_the_page_plumbing(server):
    _, client = server
    api = client.view_api(return_format="dict", print_info=False)
    assert set(api["named_endpoints"]) == {"/translate", "/inspect"} and not api["unnamed_endpoints"]
    returns = [r["label"] for r in api["named_endpoints"]["/translate"]["returns"]]
    assert returns == ["Translation", "Side by side (input | output | 2D baseline)", "Frame-to-frame change", "Status"]
    with pytest.raises(ValueError, match="Cannot find a function with `api_name`: /on_preset"):
        client.predict("tiny-3d", "a2b", api_name="/on_preset")  # private: the page calls it, clients cannot


def _layout_order(node, out):
    out.append(node["id"])
    for child in node.get("children", []):
        _layout_order(child, out)
    return out


def test_examples_come_before_the_plot(server):
    app, _ = server
    config = app.get_config_file()
    ids = {c["props"].get("elem_id"): c["id"] for c in config["components"] if c["props"].get("elem_id")}
    order = _layout_order(config["layout"], [])
    assert order.index(ids["v2v-examples"]) < order.index(ids["v2v-plot"])


def test_presets_that_cannot_load_are_left_out_and_said_once(presets, tmp_path, caplog):
    table = dict(presets, broken=str(tmp_path / "not-a-preset"))
    with caplog.at_level("WARNING"):
        app = demo.build_app(presets=table, preload_models=True, notices=["An extra line."])
    assert set(app.v2v_presets) == {"tiny-3d", "tiny-2d-random"}
    notices = [c["props"]["value"] for c in app.get_config_file()["components"]
               if "broken" in str(c["props"].get("value"))]
    assert len(notices) == 1 and "Could not load `broken`" in notices[0] and "An extra line." in notices[0]
    assert [r.levelname for r in caplog.records if "broken" in r.getMessage()] == ["WARNING"]
    assert not any(r.exc_info for r in caplog.records)  # a line, not a traceback

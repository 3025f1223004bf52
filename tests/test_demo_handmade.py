"""The bundled presets on clips drawn by hand (examples/media/make_handmade.py), through the demo page.

A real browser uploads each clip, picks the task's 3D preset and reads the page's
"Mean frame-to-frame change" line and its motion-aware "Warping error" line (flow
on the input; with the correlation of each output's change to the input's) for
the 3D output and the framewise 2D baseline. The numbers (printed with -s) are
quoted in the README; where the bundled 3D preset shows the project's claim on the
clip (a lower warping error than the 2D baseline while still following the input's
motion), the test holds it to that.
"""

import os
import re
import socket

import pytest

from test_demo_browser import CHROMIUM_ARGS, CHROMIUM, TIMEOUT_MS, _upload, _wait_for_translation

from keras_v2v import demo

MEDIA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "media")
# (clip, preset, whether the 3D preset's change must be the closer one: see the README's results)
CASES = [("handmade_digit.mp4", "mnist-colorize-3d", True), ("handmade_digit_curve.mp4", "mnist-colorize-3d", True),
         ("handmade_street_seg.mp4", "street-seg2rgb-3d", False), ("handmade_street_car.mp4", "street-seg2rgb-3d", False)]


def frame_change_line(text):
    """{"input": x, "3D output": y, "2D baseline": z} from the status box's summary line."""
    line = next(part for part in text.splitlines() if part.startswith("Mean frame-to-frame change"))
    return {name: float(value) for name, value in re.findall(r"(input|3D output|2D baseline) ([0-9.]+)", line)}


def warping_line(text):
    """{"3D output": (warping error, correlation), "2D baseline": (...)} from the status box."""
    line = next(part for part in text.splitlines() if part.startswith("Warping error"))
    found = re.findall(r"(3D output|2D baseline) ([0-9.]+) \(follows the input's change: correlation (-?[0-9.]+|nan)\)", line)
    return {name: (float(error), float(corr)) for name, error, corr in found}


def test_warping_line_is_parsed():
    text = ("Warping error along the input's optical flow (x1e3, ...): 3D output 0.17 (follows the input's "
            "change: correlation 0.92); 2D baseline 0.71 (follows the input's change: correlation 0.91).")
    assert warping_line(text) == {"3D output": (0.17, 0.92), "2D baseline": (0.71, 0.91)}


def test_frame_change_line_is_parsed():
    text = ("Mean frame-to-frame change (0-1 units, lower is steadier): input 0.0200; "
            "3D output 0.0300 (1.50x the input); 2D baseline 0.0500 (2.50x the input).")
    assert frame_change_line(text) == {"input": 0.02, "3D output": 0.03, "2D baseline": 0.05}


@pytest.fixture(scope="module")
def url():
    from playwright.sync_api import sync_playwright  # noqa: F401  (skips with test_demo_browser's rules)

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = demo.launch("127.0.0.1", port, prevent_thread_lock=True, quiet=True)  # the bundled zoo
    yield app.local_url
    app.close()
    demo.clear_model_cache()  # later tests in this process must not find these models already loaded


@pytest.mark.slow
@pytest.mark.parametrize("clip,preset,claim", CASES, ids=[c for c, _, _ in CASES])
def test_3d_output_changes_like_the_input_on_a_handmade_clip(url, clip, preset, claim, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(url, wait_until="domcontentloaded")
        page.locator("#v2v-translate").wait_for()
        page.locator("#v2v-preset input").click()
        page.get_by_role("option", name=preset, exact=True).click()
        _upload(page, os.path.join(MEDIA, clip))
        text = _wait_for_translation(page).inner_text()
        page.screenshot(path=str(tmp_path / f"{preset}.png"), full_page=True)
        browser.close()
    assert preset in text, text
    change, warping = frame_change_line(text), warping_line(text)
    print(f"{clip} with {preset}: frame-to-frame change {change}; warping error, correlation {warping}")
    assert set(change) == {"input", "3D output", "2D baseline"} and min(change.values()) > 0, change
    assert set(warping) == {"3D output", "2D baseline"}, text
    if claim:
        (error_3d, corr_3d), (error_2d, _) = warping["3D output"], warping["2D baseline"]
        assert error_3d < error_2d and corr_3d >= 0.7, warping

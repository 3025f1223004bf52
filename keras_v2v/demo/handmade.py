"""The hand-drawn clips through the demo's own path: strips and motion metrics, what a user sees.

    python -m keras_v2v.demo.handmade docs/results/motion

Each clip of `examples/media/make_handmade.py` (nothing a keras-v2v generator made)
goes through `translate_clip` with its task's 3D preset and the 2D baseline the
page shows beside it; `tests/test_demo_handmade.py` reads the same numbers off the
page in a browser.
"""

import json
import os
import sys

import numpy as np

# Hand-drawn clips (examples/media/make_handmade.py) and the 3D preset whose demo page they go through.
HANDMADE = {"handmade_digit.mp4": "mnist-colorize-3d", "handmade_digit_curve.mp4": "mnist-colorize-3d",
            "handmade_street_seg.mp4": "street-seg2rgb-3d", "handmade_street_car.mp4": "street-seg2rgb-3d"}
MEDIA = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "examples", "media")


def handmade(out_dir, frames=8):
    """Each hand-drawn clip through the demo's own path (3D preset and its 2D baseline): a strip and metrics.

    Strip rows: input, 3D output, 2D baseline, at `frames` evenly spaced frames.
    """
    from keras_v2v import data
    from keras_v2v.demo import core
    from keras_v2v.utils.files import write_json

    table = core.resolve_presets()
    results = {}
    for clip, preset in HANDMADE.items():
        result = core.translate_clip(os.path.join(MEDIA, clip), preset, "a2b", presets=table, out_dir=out_dir)
        videos = [data.read_video(os.path.join(MEDIA, clip)), data.read_video(result.side_by_side)]
        width = videos[0].shape[2]
        panels = [videos[1][..., i * width:(i + 1) * width, :] for i in range(videos[1].shape[2] // width)]
        picks = np.linspace(0, len(videos[0]) - 1, frames).round().astype(int)
        strip = np.concatenate([np.concatenate([p[t] for t in picks], axis=1) for p in panels], axis=0)
        stem = os.path.join(out_dir, os.path.splitext(clip)[0])
        data.video_write.write_image(stem + "_strip.png", np.repeat(np.repeat(strip, 2, 0), 2, 1))
        results[clip] = {"preset": preset, "frame_change": result.flicker, "motion": result.motion}
        for name in (result.video, result.side_by_side):
            os.remove(name)  # the demo's mp4s, written into out_dir by this function
    write_json(os.path.join(out_dir, "handmade.json"), results, default=float)
    return results




def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m keras_v2v.demo.handmade OUT_DIR", file=sys.stderr)
        return 2
    os.makedirs(argv[0], exist_ok=True)
    print(json.dumps(handmade(argv[0]), indent=1, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())

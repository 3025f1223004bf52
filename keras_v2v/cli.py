"""The `keras-v2v` command.

    keras-v2v translate in.mp4 out.mp4 --model PRESET_FOLDER [--direction b2a] [--side-by-side]
    keras-v2v info PRESET_FOLDER

Bad input ends with a one-line message and exit status 2, not a traceback.
"""

import argparse
import json
import os
import sys

VOLUME_SUFFIXES = (".nii", ".nii.gz")


class CommandError(Exception):
    """A problem with the user's input, reported as one line."""


def _is_volume(path):
    return str(path).lower().endswith(VOLUME_SUFFIXES)


def _read_input(path, window):
    from keras_v2v import data

    if not os.path.exists(path):
        raise CommandError(f"{path}: no such file or folder")
    if _is_volume(path):
        volume = data.read_volume(path, window=window or "minmax")
        return volume, None
    if os.path.isdir(path):
        return data.read_frames(path), 30.0
    info = data.video_info(path)
    return data.read_video(path), info.fps or 30.0


def _match_channels(video, channels, path):
    """Grey <-> RGB conversion where the model needs the other one."""
    import numpy as np

    if video.shape[-1] == channels:
        return video
    if video.shape[-1] == 3 and channels == 1:
        grey = video.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
        return grey[..., None].astype(video.dtype)
    if video.shape[-1] == 1 and channels == 3:
        return np.repeat(video, 3, axis=-1)
    raise CommandError(f"{path}: {video.shape[-1]} channels, but the model expects {channels}")


def _progress_printer():
    def report(done, total):
        width = 30
        filled = int(width * done / max(total, 1))
        sys.stderr.write(f"\rtranslating [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return report


def translate_command(args):
    import keras_v2v as v2v
    from keras_v2v import data

    model = v2v.from_pretrained(args.model)
    video, fps = _read_input(args.input, args.intensity_window)
    source_channels = model.channels_a if args.direction == "a2b" else model.channels_b
    video = _match_channels(video, source_channels, args.input)
    output = model.translate(
        video,
        direction=args.direction,
        window=args.window,
        overlap=args.overlap,
        batch_size=args.batch_size,
        progress=None if args.quiet else _progress_printer(),
    )
    if _is_volume(args.output):
        data.write_nifti(args.output, output)
    elif args.side_by_side:
        data.write_side_by_side(args.output, video, output, labels=["input", "output"], fps=fps or 30.0)
    else:
        data.write_video(args.output, output, fps=fps or 30.0)
    print(f"wrote {args.output} ({len(output)} frames)")


def info_command(args):
    from keras_v2v import hub

    spec = hub.read_preset_spec(args.model)
    if spec is None:
        raise CommandError(f"{args.model}: not a preset folder (no {hub.PRESET_FILE})")
    print(json.dumps(spec, indent=2))


def build_parser():
    parser = argparse.ArgumentParser(
        prog="keras-v2v", description="Unsupervised video-to-video translation (3D and 2D CycleGAN)."
    )
    verbs = parser.add_subparsers(dest="verb", required=True)

    tr = verbs.add_parser("translate", help="translate a video, frame folder or NIfTI volume")
    tr.add_argument("input", help="video file (mp4, mov, avi, mkv, webm, gif), frame folder or .nii/.nii.gz")
    tr.add_argument("output", help="output file: .mp4, .webm, .gif, a folder name for PNG frames, or .nii.gz")
    tr.add_argument("--model", required=True, help="preset folder written by save_pretrained")
    tr.add_argument("--direction", choices=("a2b", "b2a"), default="a2b")
    tr.add_argument("--window", type=int, default=None, help="3D models: frames per window (default: training depth)")
    tr.add_argument("--overlap", type=int, default=None, help="3D models: frames shared by neighbouring windows")
    tr.add_argument("--batch-size", type=int, default=4, help="frames (2D) or windows (3D) per forward pass")
    tr.add_argument("--side-by-side", action="store_true", help="write input | output next to each other")
    tr.add_argument("--intensity-window", default=None, help="volumes: window preset (ct-brain, mr, minmax)")
    tr.add_argument("--quiet", action="store_true", help="no progress bar")
    tr.set_defaults(run=translate_command)

    info = verbs.add_parser("info", help="show a preset folder's input spec and checksums")
    info.add_argument("model", help="preset folder")
    info.set_defaults(run=info_command)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    from keras_v2v.data.errors import DataError

    try:
        args.run(args)
    except (CommandError, DataError, ValueError, FileNotFoundError, FileExistsError, OSError) as error:
        print(f"keras-v2v: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

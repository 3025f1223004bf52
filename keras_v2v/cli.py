"""The `keras-v2v` command.

    keras-v2v translate in.mp4 out.mp4 --model PRESET_FOLDER [--direction b2a] [--side-by-side]
    keras-v2v info PRESET_FOLDER
    keras-v2v evaluate --model PRESET_FOLDER --dataset vmnist
    keras-v2v reproduce table2 --budget quick

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


DATASET_TABLES = {"vmnist": "table2", "coloured-mnist": "table1", "street": "table4"}


def _print_metrics(title, values):
    print(title)
    for key, value in values.items():
        print(f"  {key:<32} {value:.4f}" if isinstance(value, float) else f"  {key:<32} {value}")


def evaluate_command(args):
    import keras_v2v as v2v
    from keras_v2v import reproduce

    name = DATASET_TABLES.get(args.dataset, args.dataset)
    spec = reproduce.table(name)
    model = v2v.from_pretrained(args.model)
    _, test = spec.dataset(args.budget).split(0.7, seed=0)
    values = reproduce.score(spec, reproduce.translate_test_set(model, spec, test), test)
    _print_metrics(f"{args.model} on {args.dataset} ({len(test)} held-out videos, budget {args.budget})", values)
    if args.out:
        with open(args.out, "w") as handle:
            json.dump({"model": args.model, "dataset": args.dataset, "budget": args.budget,
                       "metrics": values}, handle, indent=2)
        print(f"wrote {args.out}")


def reproduce_command(args):
    from keras_v2v import reproduce

    methods = tuple(args.methods.split(",")) if args.methods else reproduce.METHODS
    results = reproduce.reproduce(args.table, budget=args.budget, methods=methods, runs_dir=args.runs_dir,
                                  out_dir=args.out_dir, steps=args.steps)
    for method, result in results.items():
        _print_metrics(method, result["metrics"])
    print(f"wrote {args.out_dir}/{args.table}.md")


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

    ev = verbs.add_parser("evaluate", help="score a preset on a synthetic dataset's held-out split")
    ev.add_argument("--model", required=True, help="preset folder")
    ev.add_argument("--dataset", required=True, help="vmnist, coloured-mnist, street (or table1/2/4)")
    ev.add_argument("--budget", default="quick", help="dataset size: quick or full")
    ev.add_argument("--out", default=None, help="write the metrics as JSON here")
    ev.set_defaults(run=evaluate_command)

    rp = verbs.add_parser("reproduce", help="train the paper's four methods and write docs/results/<table>.md")
    rp.add_argument("table", choices=("table1", "table2", "table4"))
    rp.add_argument("--budget", default="quick", choices=("smoke", "quick", "full"))
    rp.add_argument("--methods", default=None, help="comma-separated subset of 3d,2d-random,2d-sequential,2d-const")
    rp.add_argument("--steps", type=int, default=None, help="override the budget's training steps")
    rp.add_argument("--runs-dir", default="runs/reproduce", help="checkpoints; rerun to resume")
    rp.add_argument("--out-dir", default="docs/results")
    rp.set_defaults(run=reproduce_command)

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

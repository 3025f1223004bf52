"""The `keras-v2v` command.

    keras-v2v list
    keras-v2v translate in.mp4 out.mp4 --model NAME_OR_FOLDER [--direction b2a] [--side-by-side]
    keras-v2v train zoo/<preset>/recipe.toml [--out FOLDER] [--set training.steps=200] [--devices N]
    keras-v2v evaluate --model NAME_OR_FOLDER [--dataset vmnist]
    keras-v2v reproduce table2 --budget quick
    keras-v2v publish zoo/<preset> --repo ORG/NAME [--private] [--dry-run]
    keras-v2v demo
    keras-v2v space OUT_DIR [--presets NAMES]
    keras-v2v info NAME_OR_FOLDER
    keras-v2v export NAME_OR_FOLDER OUT --format saved_model|onnx|litert [--dynamic]

Bad input ends with a one-line message and exit status 2, not a traceback.
`--help`, `list` and `info` import no Keras backend (the registry and preset
metadata are JSON); verbs that run a model load the backend with TensorFlow's
C++ start-up logging kept off the terminal (KERAS_V2V_TF_LOGS=1 shows it).
"""

import argparse
import json
import os
import sys

VOLUME_SUFFIXES = (".nii", ".nii.gz")


class CommandError(Exception):
    """A problem with the user's input, reported as one line."""


def load_backend():
    """Imports Keras and its backend, keeping TensorFlow's C++/absl start-up lines off stderr.

    TensorFlow prints oneDNN, CPU-feature and absl notices while it loads, even
    with TF_CPP_MIN_LOG_LEVEL=3; they go to file descriptor 2 from C++, so the
    descriptor points at /dev/null for the duration of the import.
    """
    if "keras" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # later C++ warnings too (grappler)
    if os.environ.get("KERAS_V2V_TF_LOGS", "").strip() not in ("", "0"):
        import keras  # noqa: F401

        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import keras  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _is_volume(path):
    return str(path).lower().endswith(VOLUME_SUFFIXES)


def _check_translate_paths(source, target):
    """Fails fast, before a model loads: a missing input, an unsafe output, or the input as output."""
    from keras_v2v.data import video_write
    from keras_v2v.utils.files import check_output_path, refuse_special

    if not os.path.exists(source):
        raise CommandError(f"{source}: no such file or folder")
    refuse_special(source, "a video file, a frame folder or a NIfTI volume", CommandError)
    target_path = check_output_path(target, "output")
    if not _is_volume(target):
        video_write.check_target(target)
    same = os.path.realpath(source) == os.path.realpath(target_path) or (
        os.path.exists(target_path) and os.path.samefile(source, target_path))
    if same:
        raise CommandError(f"the output {target} is the input file; name a different output so the input is kept")


def _read_input(path, window, max_side, channels):
    """The clip in the model's channel count, decoded frame by frame into one array (no converted copy)."""
    from keras_v2v import data

    if _is_volume(path):
        volume = data.read_volume(path, window=window or "minmax")
        return volume, None
    if os.path.isdir(path):
        return data.read_frames(path, max_side=max_side, channels=channels), 30.0
    fps = data.probe_video(path).fps
    return data.read_video(path, max_side=max_side, channels=channels), fps if fps and 0 < fps <= 240 else 30.0


def _check_translate_memory(model, args, shape, channels):
    """Before decoding: the forward passes, and the clip with its translation, must fit the memory limit."""
    from keras_v2v.models import inference

    batch = _batch_that_fits(model, args, shape)
    generator = model.generator_a2b if args.direction == "a2b" else model.generator_b2a
    per_window = (min(args.window or model.sample_shape[0], max(shape[0], model.sample_shape[0]))
                  if model.rank == 3 else 1)
    out_channels = model.channels_b if args.direction == "a2b" else model.channels_a
    itemsize = 4 if _is_volume(args.input) else 1  # read_volume gives float32
    try:
        inference.check_clip_memory(generator, batch * per_window, shape, channels, out_channels, itemsize)
    except ValueError as error:
        raise CommandError(f"{args.input}: {error}") from None
    return batch


def _match_channels(video, channels, path):
    from keras_v2v import data

    try:
        return data.to_channels(video, channels)
    except ValueError as error:
        raise CommandError(f"{path}: {error}; the model expects {channels}") from None


def _progress_printer():
    def report(done, total):
        width = 30
        filled = int(width * done / max(total, 1))
        sys.stderr.write(f"\rtranslating [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return report


def _batch_that_fits(model, args, shape):
    """--batch-size, halved (with a note) while one forward pass would not fit in memory."""
    from keras_v2v.models import inference
    from keras_v2v.utils.limits import memory_limit

    generator = model.generator_a2b if args.direction == "a2b" else model.generator_b2a
    frames, height, width = shape[:3]
    per_window = min(args.window or model.sample_shape[0], max(frames, model.sample_shape[0])) if model.rank == 3 else 1
    batch = args.batch_size
    while batch > 1 and inference.forward_bytes(generator, batch * per_window * height * width) > memory_limit():
        batch //= 2
    fits = inference.forward_bytes(generator, batch * per_window * height * width) <= memory_limit()
    if batch != args.batch_size and fits:  # (when nothing fits, translate says so)
        print(f"keras-v2v: note: --batch-size {args.batch_size} would not fit in memory at {width}x{height}; "
              f"using {batch}", file=sys.stderr)
    return batch


def _check_intensity_window(args):
    """--intensity-window: a known preset, and only for volumes (a video has no intensity units)."""
    if args.intensity_window is None:
        return
    from keras_v2v.data.volume_io import WINDOW_PRESETS

    if not _is_volume(args.input):
        raise CommandError(f"--intensity-window: applies to volumes (.nii, .nii.gz) only, and {args.input} is not "
                           "one; leave it out")
    if args.intensity_window not in WINDOW_PRESETS:
        raise CommandError(f"--intensity-window: expected one of {', '.join(WINDOW_PRESETS)}, "
                           f"found {args.intensity_window!r}")


def translate_command(args):
    from keras_v2v import data, presets
    from keras_v2v.data import shapes

    _check_translate_paths(args.input, args.output)
    _check_intensity_window(args)
    load_backend()
    model = presets.from_pretrained(args.model)
    source_channels = model.channels_a if args.direction == "a2b" else model.channels_b
    # Everything that can refuse does so from the headers, before a frame is decoded.
    shape = shapes.declared_shape(args.input, args.max_side)
    batch_size = _check_translate_memory(model, args, shape, source_channels)
    video, fps = _read_input(args.input, args.intensity_window, args.max_side, source_channels)
    video = _match_channels(video, source_channels, args.input)
    output = model.translate(
        video,
        direction=args.direction,
        window=args.window,
        overlap=args.overlap,
        batch_size=batch_size,
        progress=None if args.quiet else _progress_printer(),
    )
    if _is_volume(args.output):
        data.write_nifti(args.output, output)
    elif args.side_by_side:
        # Enlarge tiny clips (the bundled models work at 32-64 px) so the result is watchable.
        height = video.shape[1] * max(1, 160 // video.shape[1])
        data.write_side_by_side(args.output, video, output, labels=["input", "output"], fps=fps or 30.0,
                                height=height)
    else:
        data.write_video(args.output, output, fps=fps or 30.0)
    print(f"wrote {args.output} ({len(output)} frames)")


def info_command(args):
    from keras_v2v import presets
    from keras_v2v.presets import storage

    from keras_v2v.presets.spec import parameter_counts

    folder, expected, label = presets.resolve(args.model)
    spec = storage.read_preset_spec(folder)
    if spec is None:
        raise CommandError(f"{args.model}: not a preset folder (no {storage.PRESET_FILE})")
    # Per-network counts, whatever version wrote the file (older ones also counted the history pools).
    print(json.dumps({**spec, "parameters": parameter_counts(spec)}, indent=2))
    # The record above is only what the folder says: check the weights as from_pretrained does.
    if os.path.exists(os.path.join(folder, storage.WEIGHTS_FILE)):
        storage.verify_weights(folder, expected, label)


def list_command(args):
    from keras_v2v import presets

    rows = presets.list_pretrained()
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    header = ("name", "task", "method", "input shape", "G params", "D params", "weights", "metric")
    table = [header] + [
        (r["name"], r["task"], r["method"], "x".join(map(str, r["input_shape"])),
         _count(r["generator_parameters"]), _count(r["discriminator_parameters"]), r["weights"], r["metric"] or "-")
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    print("G params, D params: parameters of one generator, one discriminator (a model has two of each)")


def _count(value):
    return f"{value:,}" if isinstance(value, int) else "-"


def _parse_overrides(pairs):
    """--set section.key=value (TOML values; bare words are strings) -> {section: {key: value}}."""
    from keras_v2v.training import recipes
    from keras_v2v.training.recipes import tomllib

    out = {}
    for pair in pairs or ():
        key, sep, raw = pair.partition("=")
        section, dot, name = key.partition(".")
        if not sep or not dot or section not in recipes.TABLES:
            raise CommandError(f"--set {pair!r}: expected SECTION.KEY=VALUE with SECTION one of "
                               f"{', '.join(recipes.TABLES)}")
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        out.setdefault(section, {})[name] = value
    return out


def train_command(args):
    from keras_v2v.training import recipes

    recipe = recipes.load_recipe(args.recipe)
    overrides = _parse_overrides(args.set)
    if args.data_root:
        overrides.setdefault("dataset", {})["root"] = args.data_root
    if args.devices is not None:
        if args.devices < 1:
            raise CommandError(f"--devices must be a positive integer (devices per host), found {args.devices}")
        overrides.setdefault("distribution", {})["devices"] = args.devices
    if overrides:
        recipe = recipe.replace(**overrides)
    # An empty --run-dir or --out is refused below, not read as "the default".
    run_dir = os.path.join("runs", "train", recipe.name) if args.run_dir is None else args.run_dir
    out = os.path.join(run_dir, "preset") if args.out is None else args.out
    # Refuse an output that would destroy a user's folder now, not after hours of training.
    from keras_v2v.presets import storage

    storage.check_preset_target(out, overwrite=True, replace_foreign=args.overwrite)
    load_backend()
    from keras_v2v.training import export, run

    plan, notice = run.prepare(recipe, run_dir)
    if notice:
        print(notice)
    print(f"training {recipe.name} ({recipe.method}, {recipe.training['steps']} steps) in {run_dir}; "
          "rerun the same command to resume")
    if plan.distributed:
        print(f"data-parallel training: {plan.describe()}")
    model, progress, recipe_data = run.train(recipe, run_dir, verbose=0 if args.quiet else 1,
                                             tensorboard=not args.no_tensorboard, plan=plan)
    if not plan.is_chief:
        print(f"trained; host {plan.host} leaves the preset to host 0")
        return
    folder, info = export.export_preset(recipe, model, out, progress, recipe_data=recipe_data,
                                        evaluate=not args.no_evaluate, note=args.note,
                                        replace_foreign=args.overwrite)
    if "evaluation" in info:
        _print_metrics(f"held-out metrics ({info['evaluation']['videos']} videos)", info["evaluation"]["metrics"])
    print(f"wrote preset {folder}")


def publish_command(args):
    from keras_v2v.presets import publish

    publish.publish_command(args)


def space_command(args):
    from keras_v2v.demo import space

    space.space_command(args)


def demo_command(args):
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise CommandError('the demo needs Gradio: pip install "keras-v2v[demo]"') from None
    load_backend()
    from keras_v2v.demo import app

    app.demo_command(args)


DATASET_TABLES = {"vmnist": "table2", "coloured-mnist": "table1", "street": "table4"}


def _print_metrics(title, values):
    print(title)
    for key, value in values.items():
        print(f"  {key:<32} {value:.4f}" if isinstance(value, float) else f"  {key:<32} {value}")


def evaluate_command(args):
    """Scores a preset on a held-out split: a named table's dataset, or the preset recipe's."""
    from keras_v2v import evaluation, presets
    from keras_v2v.training import recipes

    if args.budget is not None and args.dataset is None:
        raise CommandError("--budget: sets the size of a --dataset, and none is named (the preset's recipe "
                           "sets its own data); name --dataset or leave --budget out")
    out = _check_json_out(args.out) if args.out else None  # before the evaluation, not after it
    folder, expected, label = presets.resolve(args.model)
    load_backend()
    from keras_v2v.training import pipeline, reproduce

    if args.dataset is not None:
        name = DATASET_TABLES.get(args.dataset, args.dataset)
        args.budget = args.budget or "quick"
        recipe = reproduce.recipe_for(name, args.budget, "3d")
        where = f"{args.dataset} (budget {args.budget})"
    else:
        recipe_path = os.path.join(folder, "recipe.toml")
        if not os.path.exists(recipe_path):
            raise CommandError(f"{args.model}: no recipe.toml in {folder}; name a dataset with --dataset")
        recipe = recipes.load_recipe(recipe_path)
        where = "its recipe's held-out split"
    model = presets.load_folder(folder, expected_sha256=expected, discriminators=False, label=label)
    result = evaluation.evaluate(model, recipe.dataset["generator"], pipeline.load_data(recipe).test,
                                 max_videos=args.max_videos)
    _print_metrics(f"{args.model} on {where} ({result['videos']} videos, {result['direction']})",
                   result["metrics"])
    if out:
        from keras_v2v.utils.files import write_json

        write_json(out, {"model": args.model, "recipe": recipe.name, "dataset": recipe.dataset, **result},
                   default=float)
        print(f"wrote {args.out}")


def _check_json_out(path):
    """An output file for JSON: not a folder, in a folder that can be written."""
    from keras_v2v.utils.files import check_output_path

    target = check_output_path(path, "--out")  # also: a name too long, a parent that is a file, no write access
    if os.path.isdir(target):
        raise CommandError(f"--out {path}: expected a file name for the JSON metrics, found a folder")
    return target


def reproduce_command(args):
    load_backend()
    from keras_v2v.training import reproduce

    methods = tuple(args.methods.split(",")) if args.methods else reproduce.METHODS
    results = reproduce.reproduce(args.table, budget=args.budget, methods=methods, runs_dir=args.runs_dir,
                                  out_dir=args.out_dir, steps=args.steps, overwrite=args.overwrite)
    for method, result in results.items():
        _print_metrics(method, result["metrics"])
    print(f"wrote {args.out_dir}/{args.table}.md")


def export_command(args):
    from keras_v2v.serving import exporter

    exporter.check_axes(args.frames, args.height, args.width)  # an absurd size is refused before the backend loads
    load_backend()
    from keras_v2v import serving

    record = serving.export(args.preset, args.out, format=args.format, direction=args.direction,
                            frames=args.frames, height=args.height, width=args.width, dynamic=args.dynamic,
                            dtype=args.dtype, overwrite=args.overwrite)
    shape = "x".join("?" if s is None else str(s) for s in record["input"]["shape"])
    print(f"wrote {args.out} ({record['format']}: {record['input']['layout']} {shape} {record['input']['dtype']} "
          f"in [-1, 1], {record['domains']['from']} -> {record['domains']['to']}; see export.json)")


def _int_at_least(lowest, what):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if value < lowest:
            raise argparse.ArgumentTypeError(f"expected {what}, got {value}")
        return value

    parse.__name__ = what  # argparse names the type in its messages
    return parse


_positive = _int_at_least(1, "a whole number >= 1")
_non_negative = _int_at_least(0, "a whole number >= 0")


def _port(text):
    value = _int_at_least(1, "a port number from 1 to 65535")(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 1 to 65535, got {value}")
    return value


class _Parser(argparse.ArgumentParser):
    """Argument errors as one line (no usage block), exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {_one_line(message)} (see {self.prog} --help)\n")


def _one_line(text):
    return " ".join(str(text).split())


def ablate_command(args):
    load_backend()
    from keras_v2v.training import ablations

    names = [n.strip() for n in args.variants.split(";")] if args.variants else None
    rows = ablations.ablate(args.table, budget=args.budget, variants=names, runs_dir=args.runs_dir,
                            out_dir=args.out_dir)
    print(f"wrote {args.out_dir}/ablations_{args.table}_{args.budget}.md ({len(rows)} variants)")


def build_parser():
    parser = _Parser(
        prog="keras-v2v", description="Unsupervised video-to-video translation (3D and 2D CycleGAN)."
    )
    verbs = parser.add_subparsers(dest="verb", required=True, parser_class=_Parser)

    tr = verbs.add_parser("translate", help="translate a video, frame folder or NIfTI volume")
    tr.add_argument("input", help="video file (mp4, mov, avi, mkv, webm, gif), frame folder or .nii/.nii.gz")
    tr.add_argument("output", help="output file: .mp4, .webm, .gif, a folder name for PNG frames, or .nii.gz")
    tr.add_argument("--model", required=True, help="preset name (keras-v2v list), folder, or Hub repo org/name")
    tr.add_argument("--direction", choices=("a2b", "b2a"), default="a2b")
    tr.add_argument("--window", type=_positive, default=None,
                    help="3D models: frames per window (default: training depth; at most the clip's length)")
    tr.add_argument("--overlap", type=_non_negative, default=None,
                    help="3D models: frames shared by neighbouring windows")
    tr.add_argument("--batch-size", type=_positive, default=4, help="frames (2D) or windows (3D) per forward pass")
    tr.add_argument("--max-side", type=_int_at_least(2, "a whole number >= 2"), default=None,
                    help="downscale frames while reading so the longer side is at most this many pixels")
    tr.add_argument("--side-by-side", action="store_true", help="write input | output next to each other")
    tr.add_argument("--intensity-window", default=None,
                    help="volumes: window preset (ct-brain, ct-subdural, ct-soft-tissue, ct-bone, ct-lung, mr, minmax)")
    tr.add_argument("--quiet", action="store_true", help="no progress bar")
    tr.set_defaults(run=translate_command)

    ev = verbs.add_parser("evaluate", help="score a preset on a synthetic dataset's held-out split")
    ev.add_argument("--model", required=True, help="preset name, folder or Hub repo")
    ev.add_argument("--dataset", default=None,
                    help="vmnist, coloured-mnist, street (or table1/2/4); default: the preset recipe's data")
    ev.add_argument("--max-videos", type=_positive, default=None, help="score only the first N held-out videos")
    ev.add_argument("--budget", default=None, choices=("smoke", "quick", "medium", "full"),
                    help="size of the --dataset (default quick)")
    ev.add_argument("--out", default=None, help="write the metrics as JSON here")
    ev.set_defaults(run=evaluate_command)

    rp = verbs.add_parser("reproduce", help="train the paper's four methods and write docs/results/<table>.md")
    rp.add_argument("table", choices=("table1", "table2", "table4"))
    rp.add_argument("--budget", default="quick", choices=("smoke", "quick", "medium", "full"))
    rp.add_argument("--methods", default=None, help="comma-separated subset of 3d,2d-random,2d-sequential,2d-const")
    rp.add_argument("--steps", type=_positive, default=None, help="override the budget's training steps")
    rp.add_argument("--runs-dir", default="runs/reproduce", help="checkpoints; rerun to resume")
    rp.add_argument("--out-dir", default="docs/results")
    rp.add_argument("--overwrite", action="store_true", help="replace this table's reports already in --out-dir")
    rp.set_defaults(run=reproduce_command)

    ab = verbs.add_parser("ablate", help="train the 3D recipe with one change at a time; write the ablation table")
    ab.add_argument("table", choices=("table1", "table2", "table4"))
    ab.add_argument("--budget", default="quick", choices=("smoke", "quick", "medium", "full"))
    ab.add_argument("--variants", default=None, help="';'-separated variant names (default: all; see "
                    "keras_v2v.training.ablations.VARIANTS)")
    ab.add_argument("--runs-dir", default="runs/ablations", help="checkpoints; rerun to resume")
    ab.add_argument("--out-dir", default="docs/results")
    ab.set_defaults(run=ablate_command)

    info = verbs.add_parser("info", help="show a preset's input spec, metrics and checksums")
    info.add_argument("model", help="preset name, folder or Hub repo")
    info.set_defaults(run=info_command)

    ls = verbs.add_parser("list", help="registered presets: task, method, shape, where the weights are")
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ls.set_defaults(run=list_command)

    tn = verbs.add_parser("train", help="train a recipe (resumable) and export a preset folder")
    tn.add_argument("recipe", help="recipe.toml (or a preset folder holding one)")
    tn.add_argument("--run-dir", default=None, help="checkpoints, TensorBoard logs, sample GIFs "
                    "(default runs/train/NAME); rerun to resume")
    tn.add_argument("--out", default=None, help="preset folder to write (default RUN_DIR/preset); an existing "
                    "folder is replaced only if it is a keras-v2v preset, or with --overwrite")
    tn.add_argument("--overwrite", action="store_true",
                    help="replace --out even if it holds files that are not a keras-v2v preset")
    tn.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE",
                    help="override a recipe value, e.g. --set training.steps=200 (repeatable)")
    tn.add_argument("--data-root", default=None, help="dataset folder for recipes that read files (GTA)")
    tn.add_argument("--devices", type=int, default=None, metavar="N",
                    help="data-parallel devices per host (jax, tensorflow); sets [distribution] devices")
    tn.add_argument("--note", default=None, help="a sentence for the model card's Training section")
    tn.add_argument("--no-tensorboard", action="store_true")
    tn.add_argument("--no-evaluate", action="store_true", help="skip the held-out metrics for the card")
    tn.add_argument("--quiet", action="store_true")
    tn.set_defaults(run=train_command)

    pb = verbs.add_parser("publish", help="upload a preset folder to a Hugging Face Hub model repo")
    pb.add_argument("folder", help="preset folder, e.g. zoo/vmnist-sph2sand-3d")
    pb.add_argument("--repo", required=True, help="Hub repo id, org/name")
    pb.add_argument("--private", action="store_true")
    pb.add_argument("--token", default=None, help="Hub token (default: HF_TOKEN or `hf auth login`)")
    pb.add_argument("--revision", default=None, help="branch to commit to (default main)")
    pb.add_argument("--endpoint", default=None, help="Hub URL (default HF_ENDPOINT or huggingface.co)")
    pb.add_argument("--commit-message", default=None)
    pb.add_argument("--dry-run", action="store_true", help="list what would be uploaded; send nothing")
    pb.add_argument("--allow-generators-only", action="store_true",
                    help="publish a preset saved without discriminators (inference only: it cannot be fine-tuned)")
    pb.set_defaults(run=publish_command)

    ex = verbs.add_parser("export", help="export a preset's generator to SavedModel, ONNX or LiteRT")
    ex.add_argument("preset", help="preset name, folder or Hub repo")
    ex.add_argument("out", help="folder to write: the graph and export.json")
    ex.add_argument("--format", required=True, choices=("saved_model", "onnx", "litert"))
    ex.add_argument("--direction", choices=("a2b", "b2a"), default="a2b")
    ex.add_argument("--frames", type=int, default=None, help="3D: fixed clip length (default: training depth)")
    ex.add_argument("--height", type=int, default=None, help="fixed frame height (default: the preset's)")
    ex.add_argument("--width", type=int, default=None, help="fixed frame width (default: the preset's)")
    ex.add_argument("--dynamic", action="store_true", help="any batch, length, height and width")
    ex.add_argument("--dtype", choices=("float32", "float16", "bfloat16"), default="float32",
                    help="input and compute dtype of the graph (default float32, whatever the training policy)")
    ex.add_argument("--overwrite", action="store_true", help="replace OUT when it is a previous export")
    ex.set_defaults(run=export_command)
    sp = verbs.add_parser("space", help="write a self-contained Hugging Face Space folder for the demo")
    sp.add_argument("out_dir", metavar="OUT_DIR", help="a new or empty folder (or one this command wrote before)")
    sp.add_argument("--presets", default=None, metavar="NAMES",
                    help="comma-separated preset names or folders (default: every preset whose weights are here); "
                         "a 3D preset brings its 2D baseline")
    sp.add_argument("--overwrite", action="store_true",
                    help="replace a Space folder this command wrote even if files were added to it since")
    sp.set_defaults(run=space_command)

    dm = verbs.add_parser("demo", help="start the Gradio demo on this machine")
    dm.add_argument("--host", default="127.0.0.1")
    dm.add_argument("--port", type=_port, default=7860)
    dm.add_argument("--share", action="store_true", help="ask Gradio for a public share link")
    dm.set_defaults(run=demo_command)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    from keras_v2v.data.errors import DataError

    try:
        from keras_v2v.utils.limits import check_environment

        check_environment()
        args.run(args)
    except (CommandError, DataError, ValueError, OSError, ImportError) as error:
        # Library messages (nibabel's, Gradio's) can span lines; the terminal gets one.
        print(f"keras-v2v: error: {_one_line(error) or type(error).__name__}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("keras-v2v: interrupted (training resumes from its last checkpoint when rerun)", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

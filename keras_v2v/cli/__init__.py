"""The `keras-v2v` command.

    keras-v2v list
    keras-v2v translate in.mp4 out.mp4 --model NAME_OR_FOLDER [--direction b2a] [--side-by-side]
    keras-v2v train zoo/<preset>/recipe.toml [--out FOLDER] [--set training.steps=200] [--devices N]
    keras-v2v evaluate --model NAME_OR_FOLDER [--dataset vmnist]
    keras-v2v reproduce table2 --budget quick
    keras-v2v publish zoo/<preset> --repo ORG/NAME [--private] [--dry-run]
    keras-v2v demo [--presets NAMES_OR_FOLDERS]
    keras-v2v space OUT_DIR [--presets NAMES]
    keras-v2v info NAME_OR_FOLDER
    keras-v2v export NAME_OR_FOLDER OUT --format saved_model|onnx|litert [--dynamic]
    keras-v2v convert latest_net_G_A.pth [latest_net_G_B.pth] OUT_DIR [--inflate]

Bad input ends with a one-line message and exit status 2, not a traceback.
`--help`, `list` and `info` import no Keras backend (the registry and preset
metadata are JSON); verbs that run a model load the backend with TensorFlow's
C++ start-up logging kept off the terminal (KERAS_V2V_TF_LOGS=1 shows it).
"""

import argparse
import json
import os
import sys

from keras_v2v.cli.common import VOLUME_SUFFIXES, CommandError, _in_cli_terms, _is_volume, load_backend  # noqa: F401
from keras_v2v.cli.translate import _progress_printer, _read_input, translate_command  # noqa: F401


























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
    test = pipeline.load_data(recipe).test
    if test is None:
        raise CommandError(f"{args.model}: its recipe's data ({recipe.dataset['generator']}) has no held-out paired "
                           "split to score; name a dataset with --dataset")
    model = presets.load_folder(folder, expected_sha256=expected, discriminators=False, label=label)
    result = evaluation.evaluate(model, recipe.dataset["generator"], test,
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


def convert_command(args):
    if len(args.paths) not in (2, 3):
        raise CommandError(f"convert takes G_A.pth [G_B.pth] OUT_DIR, got {len(args.paths)} paths: "
                           f"{' '.join(args.paths)}")
    *checkpoints, out = args.paths
    load_backend()
    from keras_v2v.models import convert

    folder, model = convert.convert_checkpoint(
        checkpoints[0], out, g_b2a=checkpoints[1] if len(checkpoints) > 1 else None, inflate=args.inflate,
        clip_length=args.clip_length, input_shape=tuple(args.size), domains=tuple(args.domains),
        discriminators=args.discriminators, overwrite=args.overwrite)
    form = f"3D, clips of {model.sample_shape[0]} frames" if args.inflate else "2D, frame by frame"
    critics = "fresh discriminators" if model.discriminators else "no discriminators"
    print(f"wrote {out} ({form}; {critics}; fill in the licence in README.md); try: keras-v2v translate "
          f"in.mp4 out.mp4 --model {out}")


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
    tr.add_argument("--start", type=_non_negative, default=0, help="videos: first frame to translate (default 0)")
    tr.add_argument("--max-frames", type=_positive, default=None,
                    help="videos: translate at most this many frames from --start (long or large videos)")
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
    cv = verbs.add_parser("convert", help="the reference PyTorch CycleGAN's generator checkpoints as a preset folder")
    cv.add_argument("paths", nargs="+", metavar="G_A.pth [G_B.pth] OUT_DIR",
                    help="latest_net_G_A.pth (A->B), optionally latest_net_G_B.pth (B->A), then the folder to write")
    cv.add_argument("--inflate", action="store_true",
                    help="write a 3D (video) model, framewise-equal to the checkpoints before fine-tuning")
    cv.add_argument("--clip-length", type=_positive, default=8, help="--inflate: frames per training clip")
    cv.add_argument("--size", type=_positive, nargs=2, default=(256, 256), metavar=("HEIGHT", "WIDTH"),
                    help="frame size the checkpoints were trained at (--crop_size; default 256 256)")
    cv.add_argument("--domains", nargs=2, default=("a", "b"), metavar=("A", "B"), help="names of the two domains")
    cv.add_argument("--discriminators", choices=("fresh",), default=None,
                    help="add new, untrained PatchGANs so the preset can be fine-tuned (default: none)")
    cv.add_argument("--overwrite", action="store_true", help="replace OUT_DIR when it holds a preset")
    cv.set_defaults(run=convert_command)
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
    dm.add_argument("--presets", default=None, metavar="NAMES",
                    help="comma-separated preset names or folders to list first (e.g. a converted "
                         "checkpoint), beside the presets whose weights are here")
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

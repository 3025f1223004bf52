"""`keras-v2v space OUT_DIR`: a Hugging Face Space folder that runs the demo from its own files.

The folder holds everything the Space needs and nothing it must fetch:

    app.py            the entry point (the same file as the repository's apps/app.py)
    requirements.txt  the packages the demo imports, pinned to the versions installed here
    README.md         Space front matter (sdk gradio at the installed Gradio version)
    .gitattributes    binary files (weights, clips) stored with LFS/Xet, as the Hub requires
    space.json        the presets: folder, task, domains, baseline, sample clip
    presets/NAME/     each chosen preset folder, as written by save_pretrained
    examples/         their sample clips
    keras_v2v/        this package, so the Space runs exactly the code that wrote it

`folder_app(here)` is what app.py calls: with a space.json it serves those
presets (one notice in the page for any that is missing, no traceback in
the log); without one (apps/ in a clone) the bundled zoo.
"""

import importlib.metadata
import json
import logging
import os
import shutil
import sys

from keras_v2v.utils.files import atomic_path, check_output_path, foreign_files, refuse_foreign

logger = logging.getLogger(__name__)

MANIFEST = "space.json"
WRITTEN_BY = "keras-v2v space"
PRESETS_DIR = "presets"
EXAMPLES_DIR = "examples"
# What the demo imports, by distribution name. Gradio is not listed: a Space
# installs the README's sdk_version of it.
REQUIREMENTS = ("keras", "numpy", "h5py", "scipy", "av", "huggingface-hub", "pandas")
BACKENDS = ("tensorflow-cpu", "tensorflow")
LFS_PATTERNS = ("*.h5", "*.keras", "*.mp4", "*.webm", "*.mov", "*.gif", "*.png", "*.nii.gz", "*.npz")
SPACE_TAGS = ["keras", "keras-v2v", "video-to-video", "cyclegan", "unpaired-image-translation"]

APP_PY = '''"""Hugging Face Space entry point for the keras-v2v demo.

`keras-v2v space OUT_DIR` writes this file with everything the Space needs beside it: the
keras_v2v package, the chosen presets (presets/), their sample clips (examples/) and
space.json, the list of them. From a clone, `python apps/app.py` serves the repository's
bundled zoo instead. GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (set by Spaces) choose the address.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # a Space folder's own keras_v2v copy wins over an installed one

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

try:
    import keras_v2v  # noqa: F401
except ImportError:  # apps/ in a clone without `pip install -e .`: the package beside apps/
    sys.path.insert(0, os.path.dirname(HERE))

from keras_v2v.demo import space  # noqa: E402

# Module level, so `gradio app.py` (auto-reload) finds it too.
demo = space.folder_app(HERE)

if __name__ == "__main__":
    space.launch_folder_app(demo)
'''


class SpaceError(ValueError):
    """A Space that cannot be written as asked; the message is one line."""


# --------------------------------------------------------------------------
# Writing a Space folder
# --------------------------------------------------------------------------


def _installed(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def requirements_text():
    """requirements.txt: what the demo imports, pinned to what is installed (and was tested) here."""
    lines = ["# Pinned to the versions keras-v2v was tested with when this Space was written",
             "# (`keras-v2v space`). Gradio comes from the README's sdk_version."]
    backend = next((name for name in BACKENDS if _installed(name)), None)
    if backend is None:
        raise SpaceError("the Space needs TensorFlow, the Keras backend it runs on; found neither "
                         "tensorflow-cpu nor tensorflow installed (pip install 'keras-v2v[tensorflow]')")
    for name in (*REQUIREMENTS, backend):
        version = _installed(name)
        if version is None:
            raise SpaceError(f"the Space needs {name}, which is not installed here (pip install {name})")
        lines.append(f"{name}=={version}")
    return "\n".join(lines) + "\n"


def gitattributes_text():
    lines = ["# The Hub stores binary files with LFS/Xet: a push of them as plain git objects is refused."]
    lines += [f"{pattern} filter=lfs diff=lfs merge=lfs -text" for pattern in LFS_PATTERNS]
    return "\n".join(lines) + "\n"


def readme_text(entries):
    """The Space's README.md: its configuration (front matter) and what it serves."""
    from huggingface_hub import SpaceCard, SpaceCardData

    gradio_version = _installed("gradio")
    if gradio_version is None:
        raise SpaceError("the Space's sdk_version is the installed Gradio's, and Gradio is not installed "
                         "(pip install 'keras-v2v[demo]')")
    data = SpaceCardData(
        title="keras-v2v video-to-video translation",
        emoji="🎞️",
        colorFrom="indigo",
        colorTo="green",
        sdk="gradio",
        sdk_version=gradio_version,
        python_version=f"{sys.version_info.major}.{sys.version_info.minor}",
        app_file="app.py",
        pinned=False,
        license="apache-2.0",
        short_description="Unpaired video-to-video translation with a 3D CycleGAN",
        tags=SPACE_TAGS,
    )
    rows = ["| preset | task | method | A -> B |", "|---|---|---|---|"]
    rows += [f"| `{name}` | {e.get('task', '')} | {e.get('method', '')} | {' -> '.join(e.get('domains') or [])} |"
             for name, e in entries.items()]
    body = "\n".join([
        "# keras-v2v demo", "",
        "Upload a short clip or pick an example, choose a preset and a direction, and get the translation, "
        "a side-by-side view and a plot of frame-to-frame change (the 3D model against its framewise 2D "
        "baseline where the Space has both).", "",
        *rows, "",
        "Everything runs from this folder: `app.py`, the `keras_v2v` package it imports, the presets in "
        "`presets/` and their sample clips in `examples/` (listed in `space.json`). Written by "
        "`keras-v2v space`; run it locally with `pip install -r requirements.txt gradio && python app.py`.", "",
    ])
    return SpaceCard(f"---\n{data.to_yaml()}\n---\n\n{body}").content


def _ignore(folder, names):
    return [n for n in names if n.startswith(".") or n == "__pycache__" or n.endswith(".pyc")]


def _preset_entries(names):
    """{name: (folder, manifest entry)} for preset names or folders; baselines of 3D presets added."""
    from keras_v2v import presets
    from keras_v2v.presets import storage

    registered = {row["name"]: row for row in presets.list_pretrained()}
    if names is None:
        names = [n for n, row in registered.items() if row["weights"] in ("bundled", "cached")]
        if not names:
            raise SpaceError("no preset weights are on this machine to put in the Space; name presets with "
                             "--presets (registered names or preset folders)")
    wanted = list(dict.fromkeys(names))
    for name in list(wanted):
        baseline = (registered.get(name) or {}).get("baseline")
        if baseline and baseline not in wanted and registered[baseline]["weights"] in ("bundled", "cached"):
            wanted.append(baseline)  # the demo's plot compares a 3D preset with its 2D baseline
    chosen = {}
    for name in wanted:
        if name in registered:
            folder, _, _ = presets.resolve(name)
            row = registered[name]
            entry = {k: row.get(k) for k in ("task", "method", "description", "metric", "domains", "baseline")}
            entry["sample_clip"] = row.get("sample_clip")
        else:
            # A preset folder or a Hub repo id; anything else raises the registry's message (close names).
            folder, _, _ = presets.resolve(name)
            if not storage.is_preset_folder(folder):
                raise SpaceError(f"--presets {name!r}: expected a preset folder written by save_pretrained "
                                 f"(config.json, keras_v2v.json), found {folder} without them")
            spec = storage.read_preset_spec(folder)
            name = os.path.basename(os.path.normpath(name))
            entry = {k: spec.get(k) for k in ("task", "method", "description", "metric", "domains")}
        if name in chosen:
            raise SpaceError(f"--presets: two presets would both be named {name!r} in the Space; rename a folder")
        chosen[name] = (folder, entry)
    return chosen


def _read_manifest(directory):
    try:
        with open(os.path.join(directory, MANIFEST)) as handle:
            manifest = json.load(handle)
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def is_space_folder(directory):
    """True for a folder `keras-v2v space` wrote (its space.json says so)."""
    manifest = _read_manifest(directory)
    return manifest is not None and manifest.get("written_by") == WRITTEN_BY


# What a Space folder holds at its top level (older space.json files list no "files").
TOP_LEVEL = ("app.py", "requirements.txt", "README.md", ".gitattributes", MANIFEST, PRESETS_DIR, EXAMPLES_DIR,
             "keras_v2v")


def our_files(directory):
    """The files of a Space folder that `keras-v2v space` wrote, as relative paths (its space.json lists them)."""
    listed = _read_manifest(directory).get("files")
    if isinstance(listed, list):
        return set(listed)
    # Written before the list was kept: everything under the names the command writes.
    return {path for path in foreign_files(directory, set()) if path.split("/")[0] in TOP_LEVEL}


def write_space(out_dir, presets=None, overwrite=False):
    """Writes a self-contained Space folder at `out_dir`; returns (folder, {name: manifest entry}).

    Args:
        out_dir: a new or empty folder, or one this function wrote before (it
            is replaced, atomically). Anything else is refused.
        presets: preset names (registered) or preset folders; None for every
            preset whose weights are on this machine. A 3D preset brings its
            2D baseline along.
        overwrite: replace a folder this function wrote even when files were
            added to it since (they are deleted); without it they are named and
            the folder is kept.
    """
    target = check_output_path(out_dir, "Space folder")
    if os.path.lexists(target) and not os.path.isdir(target):
        raise SpaceError(f"{out_dir} is a file; name a new folder for the Space")
    if os.path.isdir(target) and os.listdir(target) and not is_space_folder(target):
        raise SpaceError(f"{out_dir} holds files that `keras-v2v space` did not write (no {MANIFEST} of its own); "
                         "refusing to replace them. Name a new or empty folder.")
    if is_space_folder(target) and not overwrite:
        # Our folder, but a user may have added files since: replacing it would delete them.
        try:
            refuse_foreign(target, our_files(target), "`keras-v2v space`")
        except FileExistsError as error:
            raise SpaceError(str(error)) from None
    import keras_v2v

    chosen = _preset_entries(presets)
    manifest = {"written_by": WRITTEN_BY, "keras_v2v": _installed("keras-v2v") or "source", "presets": {}}
    with atomic_path(target, is_dir=True) as folder:
        os.makedirs(folder)
        for name, (source, entry) in chosen.items():
            shutil.copytree(source, os.path.join(folder, PRESETS_DIR, name), ignore=_ignore)
            entry = {**entry, "path": f"{PRESETS_DIR}/{name}"}
            clip = entry.pop("sample_clip", None)
            if clip and os.path.isfile(clip):
                os.makedirs(os.path.join(folder, EXAMPLES_DIR), exist_ok=True)
                shutil.copy2(clip, os.path.join(folder, EXAMPLES_DIR, os.path.basename(clip)))
                entry["sample_clip"] = f"{EXAMPLES_DIR}/{os.path.basename(clip)}"
            manifest["presets"][name] = entry
        for name, entry in manifest["presets"].items():
            if entry.get("baseline") not in manifest["presets"]:
                entry["baseline"] = None
        shutil.copytree(os.path.dirname(os.path.abspath(keras_v2v.__file__)), os.path.join(folder, "keras_v2v"),
                        ignore=_ignore)
        files = {
            "app.py": APP_PY,
            "requirements.txt": requirements_text(),
            "README.md": readme_text(manifest["presets"]),
            ".gitattributes": gitattributes_text(),
        }
        # The files we wrote, so a later run can tell them from files a user added.
        manifest["files"] = sorted(foreign_files(folder, set()) + list(files) + [MANIFEST])
        files[MANIFEST] = json.dumps(manifest, indent=2) + "\n"
        for name, text in files.items():
            with open(os.path.join(folder, name), "w", encoding="utf-8") as handle:
                handle.write(text)
    return target, manifest["presets"]


def space_command(args):
    """`keras-v2v space OUT_DIR [--presets a,b]`."""
    names = [n.strip() for n in args.presets.split(",") if n.strip()] if args.presets else None
    if args.presets is not None and not names:
        raise SpaceError(f"--presets: expected comma-separated preset names or folders, found {args.presets!r}; "
                         "leave --presets out for every preset whose weights are here")
    folder, entries = write_space(args.out_dir, names, overwrite=getattr(args, "overwrite", False))
    size = sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(folder) for f in files)
    print(f"wrote Space {folder} ({len(entries)} presets, {size / 2**20:.1f} MB): {', '.join(entries)}")
    print(f"try it: cd {folder} && python app.py; publish it: hf upload --repo-type space ORG/NAME {folder} .")
    return folder


# --------------------------------------------------------------------------
# Running a Space folder (app.py)
# --------------------------------------------------------------------------


def presets_from_manifest(here):
    """({name: list_pretrained-style entry with absolute paths}, [notice]) from here/space.json."""
    from keras_v2v.presets import storage

    with open(os.path.join(here, MANIFEST), encoding="utf-8") as handle:
        manifest = json.load(handle)
    table, missing = {}, []
    for name, entry in (manifest.get("presets") or {}).items():
        folder = os.path.join(here, entry.get("path") or f"{PRESETS_DIR}/{name}")
        if not storage.is_preset_folder(folder):
            missing.append(f"`{name}` ({entry.get('path')}/ is missing or incomplete)")
            logger.warning("preset %s is not in this Space: %s is missing or incomplete", name, folder)
            continue
        clip = entry.get("sample_clip")
        clip = os.path.join(here, clip) if clip else None
        table[name] = {**entry, "path": folder, "sample_clip": clip if clip and os.path.isfile(clip) else None}
    notices = []
    if missing:
        notices.append(f"Not available in this Space: {', '.join(missing)}. The other presets work; "
                       "rebuild the folder with `keras-v2v space` to restore it.")
    return table, notices


def folder_app(here, on_space=None):
    """The demo for the folder app.py sits in: its space.json presets, or the bundled zoo (a clone's apps/)."""
    from keras_v2v.demo import app, core

    on_space = bool(os.environ.get("SPACE_ID")) if on_space is None else on_space
    if os.path.isfile(os.path.join(here, MANIFEST)):
        table, notices = presets_from_manifest(here)
        # Preload: the first visitor does not wait, and a preset that cannot load is said once, up front.
        return app.build_app(presets=table, notices=notices, preload_models=True)
    return app.build_app(presets=core.bundled_presets(include_hub=on_space), preload_models=on_space)


def _port_from_environment():
    """GRADIO_SERVER_PORT as a port number; a one-line exit for anything else (not a traceback in the Space log)."""
    raw = os.environ.get("GRADIO_SERVER_PORT", "7860").strip()
    if not (raw.isdigit() and 1 <= int(raw) <= 65535):
        raise SystemExit(f"GRADIO_SERVER_PORT must be a port number from 1 to 65535, found {raw!r}")
    return int(raw)


def launch_folder_app(demo):
    import keras_v2v
    from keras_v2v.demo import app

    on_space = bool(os.environ.get("SPACE_ID"))
    # One line for the Space's log: which code and which presets this is.
    names = ", ".join(getattr(demo, "v2v_presets", {})) or "none"
    print(f"keras-v2v from {os.path.dirname(os.path.abspath(keras_v2v.__file__))}; presets: {names}", flush=True)
    return app.launch(
        host=os.environ.get("GRADIO_SERVER_NAME") or ("0.0.0.0" if on_space else "127.0.0.1"),
        port=_port_from_environment(),
        app=demo,
    )

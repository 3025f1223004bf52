"""Named presets: the registry, name resolution, and `from_pretrained` / `list_pretrained`.

`from_pretrained(x)` resolves, in order:
1. a local preset folder `x`;
2. a registered name whose folder is bundled in the repository's `zoo/`;
3. the Hugging Face cache (a registered name's Hub repo, `org/repo`, `hf://org/repo`);
4. a Hub download through huggingface_hub, unless HF_HUB_OFFLINE is set.
Weights of registered names are checked against the registry's sha256.

`registry.json` (beside this file) is generated from the `zoo/` folders by
`python zoo/sync_registry.py`; a test keeps the two in step.
"""

import difflib
import json
import os

from keras_v2v.presets import storage

REGISTRY_FILE = os.path.join(os.path.dirname(__file__), "registry.json")
# The repository's zoo/ (an editable install or a clone); KERAS_V2V_ZOO points elsewhere.
DEFAULT_ZOO = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "zoo")


class PresetNotFoundError(FileNotFoundError):
    """A name, folder or repo that resolves to no weights; the message says what to do."""


def zoo_dir():
    return os.environ.get("KERAS_V2V_ZOO", DEFAULT_ZOO)


def load_registry():
    with open(REGISTRY_FILE) as handle:
        return json.load(handle)


def _offline():
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def _bundled_folder(name):
    folder = os.path.join(zoo_dir(), name)
    return folder if os.path.exists(os.path.join(folder, storage.WEIGHTS_FILE)) else None


def _snapshot(repo_id, revision=None, token=None, local_only=False):
    """The repo's folder from the HF cache (local_only) or a download; None when not cached."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        # HF_ENDPOINT is read here, not only when huggingface_hub was imported (mirrors, tests).
        return snapshot_download(repo_id, revision=revision, token=token, local_files_only=local_only,
                                 endpoint=os.environ.get("HF_ENDPOINT") or None)
    except LocalEntryNotFoundError:
        if local_only:
            return None
        raise


def weights_location(name, entry=None):
    """Where a registered preset's weights are: bundled, cached, hub or recipe only."""
    entry = entry or load_registry()[name]
    if entry.get("recipe_only"):
        return "recipe only"
    if _bundled_folder(name):
        return "bundled"
    if entry.get("hub_repo"):
        try:
            if _snapshot(entry["hub_repo"], local_only=True):
                return "cached"
        except Exception:  # a broken cache is reported when loading, not when listing
            pass
        return "hub"
    return "missing"


def list_pretrained():
    """One dict per registered preset: name, task, method, shape, parameter counts, weights, metric."""
    rows = []
    for name, entry in sorted(load_registry().items()):
        sample = entry.get("sample_clip")
        if sample:
            sample = os.path.join(os.path.dirname(zoo_dir()), sample)
        rows.append({
            "name": name,
            "task": entry["task"],
            "method": entry["method"],
            "rank": 3 if entry["method"] == "3d" else 2,
            "input_shape": entry["input_shape"],
            # Parameters of one generator and one discriminator (a model has two of each);
            # "parameters" is the generator's, the key earlier versions had.
            "generator_parameters": entry.get("generator_parameters", entry.get("parameters")),
            "discriminator_parameters": entry.get("discriminator_parameters"),
            "parameters": entry.get("generator_parameters", entry.get("parameters")),
            "weights": weights_location(name, entry),
            "metric": entry.get("metric", ""),
            "domains": entry["domains"],
            "baseline": entry.get("baseline"),
            "sample_clip": sample if sample and os.path.exists(sample) else None,
            "description": entry.get("description", ""),
            "hub_repo": entry.get("hub_repo"),
        })
    return rows


def _unknown(name, names):
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    return PresetNotFoundError(
        f"Unknown preset {name!r}: not a folder, not a registered name, not a Hub repo id (org/name).{hint} "
        "`keras-v2v list` shows the registered names."
    )


def _recipe_only(name, entry):
    recipe = os.path.join("zoo", name, "recipe.toml")
    data = " --data-root /path/to/viper" if entry.get("generator") == "gta" else ""
    why = (" It needs the real VIPER / Playing for Benchmarks data, which keras-v2v cannot redistribute."
           if data else "")
    return PresetNotFoundError(
        f"{name!r} is registered as recipe only: no weights have been trained for it yet.{why} "
        f"Train it with `keras-v2v train {recipe}{data} --out zoo/{name}`, "
        f"then publish it with `keras-v2v publish zoo/{name} --repo <org>/{name}`."
    )


def resolve(preset, revision=None, token=None):
    """(folder, expected sha256 or None, label) for `preset`; downloads only when allowed."""
    preset = os.fspath(preset)
    if os.path.isdir(preset):
        return preset, None, preset
    entries = load_registry()
    if preset in entries:
        entry = entries[preset]
        if entry.get("recipe_only"):
            raise _recipe_only(preset, entry)
        folder = _bundled_folder(preset)
        if folder:
            return folder, entry["sha256"], preset
        repo_id = entry.get("hub_repo")
        if not repo_id:
            raise PresetNotFoundError(f"{preset!r}: weights are neither bundled in {zoo_dir()} nor on the Hub.")
        expected = entry["sha256"] if revision in (None, "main") else None
        return _from_hub(repo_id, revision, token, preset, preset), expected, preset
    hub = preset.startswith("hf://")
    repo_id = preset[len("hf://"):] if hub else preset
    looks_like_path = not hub and (preset.startswith((".", "/", "~")) or "//" in preset or preset.count("/") > 1)
    if hub and not (repo_id.count("/") == 1 and all(repo_id.split("/"))):
        raise PresetNotFoundError(f"{preset!r}: expected hf://ORG/NAME (a Hugging Face Hub model repo id)")
    if repo_id.count("/") == 1 and not looks_like_path and all(repo_id.split("/")):
        # A registered preset named by its Hub repo is held to the registry's checksum too.
        # (An explicit other revision is checked against its own keras_v2v.json record only.)
        name = next((n for n, e in entries.items() if e.get("hub_repo") == repo_id), None)
        expected = entries[name].get("sha256") if name and revision in (None, "main") else None
        bundled = _bundled_folder(name) if expected else None
        if bundled:
            # The same weights (the registry's checksum) are here: no cache or network needed.
            return bundled, expected, preset
        return _from_hub(repo_id, revision, token, preset, name), expected, preset
    if looks_like_path or os.path.exists(preset):
        raise PresetNotFoundError(
            f"No preset folder at {preset!r}. Expected a folder written by `model.save_pretrained(...)` "
            "(config.json, model.weights.h5, keras_v2v.json), a registered name or a Hub repo id."
        )
    raise _unknown(preset, list(entries))


def _from_hub(repo_id, revision, token, label, registered_name):
    folder = _snapshot(repo_id, revision, token, local_only=True)
    if folder:
        return folder
    if _offline():
        train = (f"train them with `keras-v2v train zoo/{registered_name}/recipe.toml`, "
                 if registered_name else "")
        raise PresetNotFoundError(
            f"{label}: weights are not bundled and not in the Hugging Face cache "
            f"({os.environ.get('HF_HOME', '~/.cache/huggingface')}), and HF_HUB_OFFLINE is set. "
            f"To get them: {train}download them once online (`hf download {repo_id}`), "
            "or pass a local preset folder."
        )
    try:
        return _snapshot(repo_id, revision, token)
    except Exception as error:  # huggingface_hub raises many kinds; one line is enough
        raise PresetNotFoundError(f"{label}: could not download {repo_id} from the Hub: "
                                  f"{_download_problem(error, revision)}") from None


def _download_problem(error, revision):
    """One line for a failed download: the HTTP status and what it means, else the error's first line."""
    status = getattr(getattr(error, "response", None), "status_code", None)
    hints = {
        401: "the token is missing or invalid (pass token=... or run `hf auth login`)",
        403: "this token may not read the repo",
        404: f"no such repo{' or revision ' + repr(revision) if revision else ''} "
             "(or it is private: pass token=... or run `hf auth login`)",
    }
    if status in hints:
        return f"HTTP {status}, {hints[status]}"
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    first = lines[0] if lines else type(error).__name__
    return f"HTTP {status}, {first}" if status else first


def from_pretrained(preset, revision=None, token=None, discriminators=True):
    """Loads a CycleGAN from a name, a preset folder, `org/repo` or `hf://org/repo`.

    Args:
        preset: see the module docstring for the resolution order.
        revision: Hub branch, tag or commit.
        token: Hub token for private repos.
        discriminators: False loads the generators only (inference: less
            memory; the model cannot be trained).
    """
    folder, expected, label = resolve(preset, revision=revision, token=token)
    return storage.load_folder(folder, expected_sha256=expected, discriminators=discriminators, label=label)

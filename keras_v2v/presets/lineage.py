"""Where a loaded preset came from, so that saving it again keeps its lineage.

`from_pretrained` attaches a `PresetOrigin` to the model it returns. When that
model is fine-tuned (its optimizer took a step) and saved, the new preset keeps
the base's task and method, takes a name derived from the base's
(`<base>-finetuned`) and records the base as `base_model`, the Hugging Face
card field for a model trained from another. Saved without training, it is the
same preset again and keeps the base's whole record (name, metrics, card text).
"""

import dataclasses
import re

from keras_v2v.presets.names import repo_name_problem

SUFFIX = "-finetuned"
# What a fine-tuned preset inherits from its base; the rest describes the base's own training.
INHERITED = ("task", "method")
# What a re-saved, untrained preset keeps: everything but what the folder itself computes.
_COMPUTED = ("format_version", "class", "rank", "input_shape", "channels", "domains", "value_range",
             "parameters", "generators_only", "weights_dtype", "sha256")
_REPO_ID = re.compile(r"^[^/\s]+/[^/\s]+$")


@dataclasses.dataclass(frozen=True, eq=False)
class PresetOrigin:
    """The preset a model was loaded from: its name, its Hub repo id (None when unknown) and its keras_v2v.json."""

    name: str
    repo_id: object
    spec: dict

    @classmethod
    def from_loaded(cls, spec, asked=None):
        """The origin of a preset folder whose keras_v2v.json is `spec`, asked for by the name or
        Hub repo id `asked` (None for a local folder)."""
        spec = dict(spec or {})
        repo_id = spec.get("hub_repo")
        asked = str(asked or "")
        asked = asked[len("hf://"):] if asked.startswith("hf://") else asked
        if not repo_id and _REPO_ID.match(asked) and not asked.startswith((".", "~")):
            repo_id = asked
        name = spec.get("name") or (repo_id.split("/")[-1] if repo_id else None)
        return cls(name=str(name) if name else None, repo_id=repo_id, spec=spec) if name else None

    @property
    def base_model(self):
        """What the Hub's `base_model` field takes: a repo id (or, unpublished, the preset's name)."""
        return self.repo_id or self.name


def derived_name(base):
    """`<base>-finetuned`, kept a valid Hub repo name; a name that already ends so is kept."""
    if base.endswith(SUFFIX):
        return base
    name = base[: 96 - len(SUFFIX)].rstrip("-.") + SUFFIX
    return name if repo_name_problem(name) is None else "keras-v2v" + SUFFIX


def trained_since_loaded(model):
    """True once the model's optimizer has taken a step (fine-tuning), False for a model just loaded."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return False
    try:
        import keras

        return int(keras.ops.convert_to_numpy(optimizer.iterations)) > 0
    except (AttributeError, TypeError, ValueError):
        return False


def lineage_metadata(model):
    """keras_v2v.json fields `save_pretrained` adds for a model `from_pretrained` returned ({} for others)."""
    origin = getattr(model, "preset_origin", None)
    if not isinstance(origin, PresetOrigin):
        return {}
    if not trained_since_loaded(model):
        return {k: v for k, v in origin.spec.items() if k not in _COMPUTED}
    base = origin.spec
    description = f"Fine-tuned from `{origin.base_model}`."
    if base.get("description"):
        description += f" The base model: {base['description']}"
    return {
        "name": derived_name(origin.name),
        **{key: base[key] for key in INHERITED if base.get(key)},
        "description": description,
        "base_model": origin.base_model,
    }


def attach(model, spec, asked=None):
    """Records where `model` was loaded from and names it after the preset (not its training recipe)."""
    origin = PresetOrigin.from_loaded(spec, asked)
    if origin is None:
        return model
    model.preset_origin = origin
    if repo_name_problem(origin.name) is None:
        model.name = origin.name
    return model

"""Recipes: a TOML file that says how a preset is trained, and the code that runs it.

A recipe has five tables:

    name = "vmnist-sph2sand-3d"
    task = "vmnist-sph2sand"
    method = "3d"                      # 3d | 2d-random | 2d-sequential | 2d-const

    [dataset]                          # a generator of keras_v2v.data and its arguments,
    generator = "volumetric_mnist"     # or generator = "gta" with root = "/data/viper", or
                                       # generator = "folders" with a = "horses/", b = "zebras/"
                                       # (your unpaired clips; optional size = [H, W], domains)
    n = 200
    split = 0.7                        # domains split independently (paper sec. 5)

    [model]                            # cyclegan_3d / cyclegan_2d arguments
    clip_length = 16                   # frames of a 3D clip; frames per 2D batch
    filters = 8                        # 2D: "match-3d" = width with the 3D model's parameters
    init_from = "vmnist-sph2sand-2d-random"   # optional: start from a trained preset; a 2D one is
                                       # inflated for method "3d" (keras_v2v.inflate), and its
                                       # architecture replaces filters, num_blocks, ...

    [training]
    steps = 1500
    batch_size = 2                     # the global batch: clips (3D) or frames (2D) per step

    [export]
    weights_dtype = "float16"

    [distribution]                     # optional; see keras_v2v.training.distribution
    devices = 2                        # data-parallel devices per host (1 = off)
    threads_per_op = 1                 # CPU threads per operation, operations run at once
    ops_at_once = 2                    # (0 = the backend's default; keras_v2v.training.threads)

`keras-v2v train RECIPE` and `keras-v2v reproduce` both run recipes through
`keras_v2v.training.run.train`, so a zoo preset and a row of a results table
come from the same code. This module only reads, checks and writes recipes
(no Keras import).
"""

import dataclasses
import math
import os

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from keras_v2v.presets import names
from keras_v2v.utils.files import refuse_special, write_text

METHODS = ("3d", "2d-random", "2d-sequential", "2d-const")
GENERATORS = ("volumetric_mnist", "coloured_moving_mnist", "synthetic_street", "head_phantoms", "gta", "folders")

MODEL_DEFAULTS = dict(
    clip_length=8, filters=32, num_blocks=6, discriminator_filters=32, discriminator_layers=3,
    temporal_stride=True, stem_kernel_size=7, upsampling="resize", reference_3d_filters=None,
    norm="clip", discriminator_temporal_kernel=3,
    # Start from a trained preset (name or folder); a 2D one is inflated for method "3d".
    init_from=None, temporal_kernel=3, stem_temporal_kernel=1,
)
# What a preset named in [model] init_from brings with it (its architecture): not set beside it.
ARCHITECTURE_KEYS = ("filters", "num_blocks", "discriminator_filters", "discriminator_layers", "temporal_stride",
                     "stem_kernel_size", "upsampling", "reference_3d_filters", "norm",
                     "discriminator_temporal_kernel")
TRAINING_DEFAULTS = dict(
    steps=1000, chunk=100, learning_rate=2e-4, beta_1=0.5, gan_loss="lsgan", lambda_cycle=10.0,
    lambda_identity=0.5, lambda_temporal=None, lambda_warp=0.0, pool_size=50, seed=0, sample_every=500, crop_size=None,
    lr_decay=False, conv_precision="float32",
    batch_size=None,  # None: 1 clip (3D), clip_length consecutive or random frames (2D)
)
EXPORT_DEFAULTS = dict(weights_dtype="float16", hub_repo=None, data_licence=None, sample_clip=None)
# Where a run trains, not what: the batch above is the global batch whatever the device count.
DISTRIBUTION_DEFAULTS = dict(devices=1, threads_per_op=0, ops_at_once=0)
TABLES = ("dataset", "model", "training", "export", "distribution")


def _int(lowest):
    def check(value):
        return isinstance(value, int) and not isinstance(value, bool) and value >= lowest
    check.expects = f"a whole number >= {lowest}"
    return check


def _number(lowest, highest=None, strict=False):
    def check(value):
        # inf passes every comparison and turns the weights to NaN some steps later.
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        above = value > lowest if strict else value >= lowest
        return above and (highest is None or value < highest)
    check.expects = (f"a finite number {'>' if strict else '>='} {lowest}"
                     + (f" and < {highest}" if highest is not None else ""))
    return check


def _one_of(*choices):
    def check(value):
        return value in choices
    check.expects = "one of " + ", ".join(repr(c) for c in choices)
    return check


def _either(first, second):
    def check(value):
        return first(value) or second(value)
    check.expects = f"{first.expects} or {second.expects}"
    return check


def _optional(inner):
    return _either(_one_of(None), inner)


def _text(value):
    return isinstance(value, str)


_text.expects = "a string"


def _size_pair(value):
    return isinstance(value, (list, tuple)) and len(value) == 2 and all(_int(1)(v) for v in value)


_size_pair.expects = "[height, width] of whole numbers >= 1"
_boolean = _one_of(True, False)

# What each key accepts: a bad value (`--set training.steps=abc`, `steps = -5`)
# is refused with the file, the key, what was expected and what was found.
CHECKS = {
    "model": dict(
        clip_length=_int(1), filters=_either(_int(1), _one_of("match-3d")), num_blocks=_int(0),
        discriminator_filters=_int(1), discriminator_layers=_int(0), temporal_stride=_boolean,
        stem_kernel_size=_int(1), upsampling=_one_of("resize", "transpose"),
        reference_3d_filters=_optional(_int(1)), norm=_one_of("clip", "frame"),
        discriminator_temporal_kernel=_int(1), init_from=_optional(_text), temporal_kernel=_int(1),
        stem_temporal_kernel=_int(1),
    ),
    "training": dict(
        steps=_int(1), chunk=_int(1), learning_rate=_number(0, strict=True), beta_1=_number(0, 1),
        gan_loss=_one_of("lsgan", "vanilla"), lambda_cycle=_number(0), lambda_identity=_number(0),
        lambda_temporal=_optional(_number(0)), lambda_warp=_number(0), pool_size=_int(0), seed=_int(0), sample_every=_int(0),
        crop_size=_optional(_size_pair), lr_decay=_boolean, batch_size=_optional(_int(1)),
        conv_precision=_one_of("float32", "bfloat16"),
    ),
    "export": dict(
        weights_dtype=_one_of("float16", "float32"), hub_repo=_optional(_text),
        data_licence=_optional(_text), sample_clip=_optional(_text),
    ),
    "distribution": dict(devices=_int(1), threads_per_op=_int(0), ops_at_once=_int(0)),
}
# The paper gives no weight for the "const" penalty (eq. 2); this one is documented in the results.
CONST_LAMBDA_TEMPORAL = 1.0



class RecipeError(ValueError):
    """A recipe file that cannot be run; the message names the file and key."""


@dataclasses.dataclass(frozen=True)
class Recipe:
    name: str
    task: str
    method: str
    dataset: dict
    model: dict
    training: dict
    export: dict
    description: str = ""
    path: str = None  # the file it was read from, for messages
    distribution: dict = None

    def __post_init__(self):
        where = self.path or f"recipe {self.name!r}"
        for key in ("name", "task"):
            # The name becomes a Hub repo name and the card's model-index name; the task its task name.
            problem = names.repo_name_problem(getattr(self, key))
            if problem:
                raise RecipeError(f"{where}: {key} must be a Hugging Face Hub repo name ({names.RULES}), {problem}")
        if self.method not in METHODS:
            raise RecipeError(f"{where}: method must be one of {', '.join(METHODS)}, found {self.method!r}")
        generator = self.dataset.get("generator")
        if generator not in GENERATORS:
            raise RecipeError(
                f"{where}: [dataset] generator must be one of {', '.join(GENERATORS)}, found {generator!r}"
            )
        if self.distribution is None:
            object.__setattr__(self, "distribution", {})
        for table, defaults in (("model", MODEL_DEFAULTS), ("training", TRAINING_DEFAULTS),
                                ("export", EXPORT_DEFAULTS), ("distribution", DISTRIBUTION_DEFAULTS)):
            unknown = sorted(set(getattr(self, table)) - set(defaults))
            if unknown:
                raise RecipeError(
                    f"{where}: unknown key(s) {', '.join(unknown)} in [{table}]; "
                    f"known: {', '.join(sorted(defaults))}"
                )
        object.__setattr__(self, "model", {**MODEL_DEFAULTS, **self.model})
        object.__setattr__(self, "training", {**TRAINING_DEFAULTS, **self.training})
        object.__setattr__(self, "export", {**EXPORT_DEFAULTS, **self.export})
        object.__setattr__(self, "distribution", {**DISTRIBUTION_DEFAULTS, **self.distribution})
        for table, checks in CHECKS.items():
            for key, check in checks.items():
                value = getattr(self, table)[key]
                if not check(value):
                    raise RecipeError(f"{where}: [{table}] {key} must be {check.expects}, found {value!r}")

    @property
    def lambda_temporal(self):
        """The "const" penalty weight: as written, else on for 2d-const only."""
        value = self.training["lambda_temporal"]
        if value is None:
            return CONST_LAMBDA_TEMPORAL if self.method == "2d-const" else 0.0
        return float(value)

    @property
    def is_3d(self):
        return self.method == "3d"

    def replace(self, **sections):
        """A copy with some keys of some tables changed: replace(training={"steps": 10})."""
        changes = {k: ({**getattr(self, k), **v} if isinstance(v, dict) else v) for k, v in sections.items()}
        return dataclasses.replace(self, **changes)

    def to_toml(self):
        """The recipe as TOML text (tomli-w: strings with newlines or quotes are escaped as TOML needs)."""
        import tomli_w

        document = {"name": self.name, "task": self.task, "method": self.method}
        if self.description:
            document["description"] = self.description
        for table in TABLES:
            values = getattr(self, table)
            if table == "distribution":
                # Only what a run chose: a saved recipe (a preset's) should not pin defaults.
                values = {k: v for k, v in values.items() if v != DISTRIBUTION_DEFAULTS[k]}
                if not values:
                    continue
            if table == "model" and values.get("init_from"):
                values = {k: v for k, v in values.items() if k not in ARCHITECTURE_KEYS}
            document[table] = {k: list(v) if isinstance(v, tuple) else v for k, v in values.items() if v is not None}
        return tomli_w.dumps(document)


def load_recipe(path):
    """Reads and checks a recipe file; errors name the file and the key."""
    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, "recipe.toml")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such recipe file")
    refuse_special(path, "a recipe file (TOML)", RecipeError)  # a FIFO would block train silently
    try:
        with open(path, "rb") as handle:
            raw = tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise RecipeError(f"{path}: not valid TOML ({error})") from None
    missing = [k for k in ("name", "task", "method", "dataset") if k not in raw]
    if missing:
        raise RecipeError(f"{path}: missing {', '.join(missing)} (a recipe needs name, task, method, [dataset])")
    model = raw.get("model", {})
    clashing = [k for k in ARCHITECTURE_KEYS if k in model] if isinstance(model, dict) and model.get("init_from") else []
    if clashing:
        raise RecipeError(
            f"{path}: [model] init_from = {model['init_from']!r} brings its own architecture; remove "
            f"{', '.join(clashing)} (only clip_length, temporal_kernel and stem_temporal_kernel apply to a model "
            "started from a preset)")
    unknown = sorted(set(raw) - {"name", "task", "method", "description", *TABLES})
    if unknown:
        raise RecipeError(f"{path}: unknown top-level key(s) {', '.join(unknown)}")
    return Recipe(
        name=raw["name"], task=raw["task"], method=raw["method"], dataset=dict(raw["dataset"]),
        model=dict(raw.get("model", {})), training=dict(raw.get("training", {})),
        export=dict(raw.get("export", {})), description=raw.get("description", ""), path=path,
        distribution=dict(raw.get("distribution", {})),
    )


def save_recipe(recipe, path):
    return write_text(path, recipe.to_toml())


def _what_training_sees(recipe):
    """The parts of a recipe that change the weights (not steps, sampling, export or devices).

    [distribution] is left out on purpose: the batch is the global batch and the
    history pool is global, so N devices compute what one computes and a run may
    resume on another device count (tests/test_distribution.py checks both ways).
    """
    training = {k: v for k, v in recipe.training.items() if k not in ("steps", "sample_every")}
    # Where the data lives is not what it is: moved data (or a corrected --data-root) resumes.
    dataset = {k: v for k, v in recipe.dataset.items() if k != "root"}
    return {"method": recipe.method, "dataset": dataset, "model": recipe.model, "training": training}


# First line of the recipe a run folder records: only a file with it may be rewritten.
RUN_RECORD_MARK = "# recorded by keras-v2v train for this run folder\n"


def _record(recipe, recorded):
    write_text(recorded, RUN_RECORD_MARK + recipe.to_toml())


def _is_our_record(recorded):
    with open(recorded, encoding="utf-8") as handle:
        return handle.readline() == RUN_RECORD_MARK


def check_run_dir(recipe, run_dir, record=True):
    """Records the recipe in a new run folder; refuses to resume a run made by a different one.

    A folder that holds files but no recorded recipe is not a run folder (a
    user's folder, say) and is refused rather than filled with checkpoints.
    `record=False` (the other hosts of a multi-host run, which share the chief's
    folder) only compares with a recorded recipe: no writes, and no verdict on a
    folder the chief may be writing into this moment. Returns a notice when a
    folder holding only a recipe this function recorded had another recipe
    (now replaced).
    """
    if not os.fspath(run_dir):
        raise RecipeError("--run-dir is empty; name a folder for the run")
    if os.path.lexists(run_dir) and not os.path.isdir(run_dir):
        raise RecipeError(f"--run-dir {run_dir} is a file; name a folder for the run")
    recorded = os.path.join(run_dir, "recipe.toml")
    if record and os.path.isdir(run_dir) and os.listdir(run_dir) and not os.path.exists(recorded):
        raise RecipeError(f"{run_dir} holds files but no recipe.toml, so it is not a keras-v2v run folder; "
                          "name a new or empty --run-dir")
    if os.path.exists(recorded):
        previous_recipe = load_recipe(recorded)
        previous, current = _what_training_sees(previous_recipe), _what_training_sees(recipe)
        if previous != current:
            changed = [k for k in current if current[k] != previous[k]]
            if record and os.listdir(run_dir) == ["recipe.toml"] and _is_our_record(recorded):
                # A start refused after recording its recipe (a wrong data root, say): nothing
                # else was written, so nothing is lost.
                _record(recipe, recorded)
                return (f"{run_dir} recorded a different recipe ({', '.join(changed)}) but holds no checkpoint "
                        "yet (nothing but that record), so this recipe replaces it")
            raise RecipeError(
                f"{run_dir} holds a run of a different recipe ({', '.join(changed)} differ from {recorded}); "
                "use another --run-dir, or delete that folder to start over."
            )
        if (record and previous_recipe.dataset.get("root") != recipe.dataset.get("root")
                and _is_our_record(recorded)):
            _record(recipe, recorded)  # the data moved: record where it is now
    elif record:
        os.makedirs(run_dir, exist_ok=True)
        _record(recipe, recorded)
    return None

"""Recipes: a TOML file that says how a preset is trained, and the code that runs it.

A recipe has four tables:

    name = "vmnist-sph2sand-3d"
    task = "vmnist-sph2sand"
    method = "3d"                      # 3d | 2d-random | 2d-sequential | 2d-const

    [dataset]                          # a generator of keras_v2v.data and its arguments,
    generator = "volumetric_mnist"     # or generator = "gta" with root = "/data/viper"
    n = 200
    split = 0.7                        # domains split independently (paper sec. 5)

    [model]                            # cyclegan_3d / cyclegan_2d arguments
    clip_length = 16                   # frames of a 3D clip; frames per 2D batch
    filters = 8                        # 2D: "match-3d" = width with the 3D model's parameters

    [training]
    steps = 1500

    [export]
    weights_dtype = "float16"

`keras-v2v train RECIPE` and `keras-v2v reproduce` both run recipes through
`train`, so a zoo preset and a row of a results table come from the same code.
"""

import dataclasses
import os

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

import keras
import numpy as np

METHODS = ("3d", "2d-random", "2d-sequential", "2d-const")
GENERATORS = ("volumetric_mnist", "coloured_moving_mnist", "synthetic_street", "head_phantoms", "gta")

MODEL_DEFAULTS = dict(
    clip_length=8, filters=32, num_blocks=6, discriminator_filters=32, discriminator_layers=3,
    temporal_stride=True, stem_kernel_size=7, upsampling="resize", reference_3d_filters=None,
)
TRAINING_DEFAULTS = dict(
    steps=1000, chunk=100, learning_rate=2e-4, beta_1=0.5, gan_loss="lsgan", lambda_cycle=10.0,
    lambda_identity=0.5, lambda_temporal=None, pool_size=50, seed=0, sample_every=500, crop_size=None,
)
EXPORT_DEFAULTS = dict(weights_dtype="float16", hub_repo=None, data_licence=None, sample_clip=None)
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

    def __post_init__(self):
        where = self.path or self.name
        if self.method not in METHODS:
            raise RecipeError(f"{where}: method must be one of {', '.join(METHODS)}, found {self.method!r}")
        generator = self.dataset.get("generator")
        if generator not in GENERATORS:
            raise RecipeError(
                f"{where}: [dataset] generator must be one of {', '.join(GENERATORS)}, found {generator!r}"
            )
        for table, defaults in (("model", MODEL_DEFAULTS), ("training", TRAINING_DEFAULTS),
                                ("export", EXPORT_DEFAULTS)):
            unknown = sorted(set(getattr(self, table)) - set(defaults))
            if unknown:
                raise RecipeError(
                    f"{where}: unknown key(s) {', '.join(unknown)} in [{table}]; "
                    f"known: {', '.join(sorted(defaults))}"
                )
        object.__setattr__(self, "model", {**MODEL_DEFAULTS, **self.model})
        object.__setattr__(self, "training", {**TRAINING_DEFAULTS, **self.training})
        object.__setattr__(self, "export", {**EXPORT_DEFAULTS, **self.export})

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
        lines = [f"name = {_toml_value(self.name)}", f"task = {_toml_value(self.task)}",
                 f"method = {_toml_value(self.method)}"]
        if self.description:
            lines.append(f"description = {_toml_value(self.description)}")
        for table in ("dataset", "model", "training", "export"):
            lines += ["", f"[{table}]"]
            lines += [f"{k} = {_toml_value(v)}" for k, v in getattr(self, table).items() if v is not None]
        return "\n".join(lines) + "\n"


def _toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def load_recipe(path):
    """Reads and checks a recipe file; errors name the file and the key."""
    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, "recipe.toml")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such recipe file")
    try:
        with open(path, "rb") as handle:
            raw = tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise RecipeError(f"{path}: not valid TOML ({error})") from None
    missing = [k for k in ("name", "task", "method", "dataset") if k not in raw]
    if missing:
        raise RecipeError(f"{path}: missing {', '.join(missing)} (a recipe needs name, task, method, [dataset])")
    unknown = sorted(set(raw) - {"name", "task", "method", "description", "dataset", "model", "training", "export"})
    if unknown:
        raise RecipeError(f"{path}: unknown top-level key(s) {', '.join(unknown)}")
    return Recipe(
        name=raw["name"], task=raw["task"], method=raw["method"], dataset=dict(raw["dataset"]),
        model=dict(raw.get("model", {})), training=dict(raw.get("training", {})),
        export=dict(raw.get("export", {})), description=raw.get("description", ""), path=path,
    )


def save_recipe(recipe, path):
    tmp = f"{path}.tmp"
    with open(tmp, "w") as handle:
        handle.write(recipe.to_toml())
    os.replace(tmp, path)
    return path


# ------------------------------------------------------------------ data
@dataclasses.dataclass
class RecipeData:
    """Training sources for each domain, and a held-out paired split when there is one."""

    train_a: object
    train_b: object
    test: object  # PairedVideoSet or None
    frame_shape: tuple  # (H, W, C) of domain A
    channels_b: int
    domains: tuple


def load_data(recipe):
    """The recipe's dataset: a synthetic generator's split, or the GTA reader."""
    from keras_v2v import data

    spec = dict(recipe.dataset)
    generator = spec.pop("generator")
    split = spec.pop("split", 0.7)
    split_seed = spec.pop("split_seed", 0)
    if generator == "gta":
        root = spec.pop("root", None)
        if not root or not os.path.isdir(os.path.expanduser(root)):
            raise RecipeError(
                f"{recipe.path or recipe.name}: [dataset] root = {root!r} is not a folder; point it at a "
                "VIPER / Playing for Benchmarks download (train/img, train/cls), e.g. "
                "`keras-v2v train RECIPE --data-root /data/viper`"
            )
        clips = data.GTAClips(os.path.expanduser(root), split="train", **spec)
        height, width = clips.size or clips.read_rgb(clips.clips[0], 0, 1).shape[1:3]
        return RecipeData(clips.source("seg"), clips.source("rgb"), None, (height, width, 3), 3,
                          ("segmentation", "rgb"))
    try:
        dataset = getattr(data, generator)(**spec)
    except TypeError as error:
        raise RecipeError(f"{recipe.path or recipe.name}: bad [dataset] arguments for {generator}: {error}") from None
    train, test = dataset.split(split, seed=split_seed)
    return RecipeData(train.a, train.b, test, tuple(dataset.a.shape[2:]), dataset.b.shape[-1],
                      (dataset.domain_a, dataset.domain_b))


# ----------------------------------------------------------------- model
def build_model(recipe, recipe_data):
    """The recipe's CycleGAN; a 2D width of "match-3d" copies the 3D model's parameter count."""
    from keras_v2v.cyclegan import cyclegan_2d, cyclegan_3d

    m = recipe.model
    common = dict(channels_b=recipe_data.channels_b, num_blocks=m["num_blocks"],
                  discriminator_layers=m["discriminator_layers"], domains=recipe_data.domains,
                  upsampling=m["upsampling"])
    only_3d = dict(temporal_stride=m["temporal_stride"], stem_kernel_size=m["stem_kernel_size"])
    frame = tuple(recipe_data.frame_shape)
    shape_3d = (m["clip_length"],) + frame
    name = "v2v_" + recipe.name.replace("-", "_")
    if recipe.is_3d:
        return cyclegan_3d(shape_3d, filters=m["filters"], discriminator_filters=m["discriminator_filters"],
                           name=name, **common, **only_3d)
    filters, disc_filters = m["filters"], m["discriminator_filters"]
    if filters == "match-3d":
        # Paper sec. 5.2: baselines get the 3D generator's parameter count.
        if not m["reference_3d_filters"]:
            raise RecipeError(f"{recipe.path or recipe.name}: filters = \"match-3d\" needs "
                              "[model] reference_3d_filters (the 3D model's width)")
        target = cyclegan_3d(shape_3d, filters=m["reference_3d_filters"], discriminator_filters=disc_filters,
                             **common, **only_3d)
        filters = matched_width(lambda f: cyclegan_2d(frame, filters=f, discriminator_filters=f, **common),
                                target.generator_a2b.count_params())
        disc_filters = filters
    return cyclegan_2d(frame, filters=filters, discriminator_filters=disc_filters, name=name, **common)


def matched_width(build, target_params, widest=256):
    """The width whose generator parameter count is closest to `target_params`."""
    best, best_gap = 1, None
    for width in range(1, widest + 1):
        count = build(width).generator_a2b.count_params()
        gap = abs(count - target_params)
        if best_gap is None or gap < best_gap:
            best, best_gap = width, gap
        if count > target_params:
            break
    return best


def compile_model(model, recipe):
    t = recipe.training

    def optimizer():
        return keras.optimizers.Adam(t["learning_rate"], beta_1=t["beta_1"])

    model.compile(generator_optimizer=optimizer(), discriminator_optimizer=optimizer(), gan_loss=t["gan_loss"],
                  lambda_cycle=t["lambda_cycle"], lambda_identity=t["lambda_identity"],
                  lambda_temporal=recipe.lambda_temporal, pool_size=t["pool_size"], seed=t["seed"])
    return model


def batches(recipe, recipe_data):
    """Paper Fig. 4: clips for 3D, random or sequential frames for 2D."""
    from keras_v2v import data

    mode = {"3d": "clips", "2d-random": "random"}.get(recipe.method, "sequential")
    clip_length = recipe.model["clip_length"]
    crop = recipe.training["crop_size"]
    return data.UnpairedVideoDataset(
        recipe_data.train_a, recipe_data.train_b, mode=mode, batch_size=1 if recipe.is_3d else clip_length,
        clip_length=clip_length, crop_size=tuple(crop) if crop else None,
        steps_per_epoch=recipe.training["chunk"], seed=recipe.training["seed"],
    )


# ------------------------------------------------------------------ train
class SampleWriter(keras.callbacks.Callback):
    """Every `every` steps, writes input | a2b | b2a-of-B of a held-out clip as a GIF."""

    def __init__(self, folder, clip_a, every, first_step=0):
        super().__init__()
        self.folder, self.clip_a, self.every, self.step = folder, clip_a, int(every), first_step

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.every and self.step % self.every == 0:
            self.write()

    def write(self):
        from keras_v2v import data

        out = self.model.translate(self.clip_a, direction="a2b", batch_size=4)
        back = self.model.translate(out, direction="b2a", batch_size=4)
        os.makedirs(self.folder, exist_ok=True)
        path = os.path.join(self.folder, f"step-{self.step:07d}.gif")
        data.write_side_by_side(path, self.clip_a, out, back, labels=["input", "a2b", "cycle"], fps=8)


def tensorboard_callback(log_dir):
    """Keras' TensorBoard writer needs TensorFlow; without it, logs go to progress.json only."""
    try:
        import tensorboard  # noqa: F401
        import tensorflow  # noqa: F401
    except ImportError:
        print("TensorBoard logs skipped: `pip install tensorflow tensorboard` to write them")
        return None
    return keras.callbacks.TensorBoard(log_dir=log_dir, update_freq="epoch", write_graph=False)


def train(recipe, run_dir, verbose=1, tensorboard=True, recipe_data=None):
    """Trains (or resumes) `recipe` in `run_dir`. Returns (model, progress, recipe_data).

    `recipe_data`: the recipe's data when the caller already has it (`load_data(recipe)`).
    """
    from keras_v2v.training import read_progress, train_resumable

    check_run_dir(recipe, run_dir)
    recipe_data = recipe_data or load_data(recipe)
    steps, chunk = recipe.training["steps"], recipe.training["chunk"]
    done = read_progress(run_dir)["steps_done"]
    callbacks = []
    if tensorboard and done < steps:
        board = tensorboard_callback(os.path.join(run_dir, "logs"))
        callbacks += [board] if board is not None else []
    if recipe.training["sample_every"] and done < steps:
        callbacks.append(SampleWriter(os.path.join(run_dir, "samples"), _sample_clip(recipe, recipe_data),
                                      recipe.training["sample_every"], first_step=done))
    model, progress = train_resumable(
        lambda: compile_model(build_model(recipe, recipe_data), recipe),
        batches(recipe, recipe_data), steps, run_dir, steps_per_chunk=chunk, callbacks=callbacks, verbose=verbose,
    )
    return model, progress, recipe_data


def _what_training_sees(recipe):
    """The parts of a recipe that change the weights (not steps, sampling or export)."""
    training = {k: v for k, v in recipe.training.items() if k not in ("steps", "sample_every")}
    return {"method": recipe.method, "dataset": recipe.dataset, "model": recipe.model, "training": training}


def check_run_dir(recipe, run_dir):
    """Records the recipe in a new run folder; refuses to resume a run made by a different one."""
    os.makedirs(run_dir, exist_ok=True)
    recorded = os.path.join(run_dir, "recipe.toml")
    if os.path.exists(recorded):
        previous = _what_training_sees(load_recipe(recorded))
        current = _what_training_sees(recipe)
        if previous != current:
            changed = [k for k in current if current[k] != previous[k]]
            raise RecipeError(
                f"{run_dir} holds a run of a different recipe ({', '.join(changed)} differ from {recorded}); "
                "use another --run-dir, or delete that folder to start over."
            )
    else:
        save_recipe(recipe, recorded)


def _sample_clip(recipe, recipe_data):
    if recipe_data.test is not None:
        clip = recipe_data.test.a[0]
    else:
        source = recipe_data.train_a
        clip = source.read(0, 0, min(source.num_frames(0), 16))
    return np.asarray(clip)[: max(recipe.model["clip_length"], 8)]

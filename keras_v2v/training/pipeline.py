"""What a recipe turns into: its data, its CycleGAN (built and compiled) and its batches."""

import dataclasses
import os

import keras

from keras_v2v import data
from keras_v2v.models import HoldThenLinearDecay, cyclegan_2d, cyclegan_3d, resnet_generator
from keras_v2v.training.recipes import RecipeError


@dataclasses.dataclass
class RecipeData:
    """Training sources for each domain, and a held-out paired split when there is one."""

    train_a: object
    train_b: object
    test: object  # PairedVideoSet or None
    frame_shape: tuple  # (H, W, C) of domain A
    channels_b: int
    domains: tuple
    resize: tuple = None  # (H, W) every frame is resized to while batching (user folders of any size)


# [dataset] keys of generator = "folders": two folders of the user's own clips.
FOLDER_KEYS = ("a", "b", "size", "domains")


def _user_folders(recipe, spec):
    """Two folders (or files) of the user's unpaired clips: video files, or folders of frames.

    There is no paired ground truth, so no held-out split: `test` is None and
    `train` exports the preset without held-out metrics.
    """
    where = recipe.path or recipe.name
    unknown = sorted(set(spec) - set(FOLDER_KEYS))
    if unknown:
        raise RecipeError(f"{where}: unknown [dataset] key(s) {', '.join(unknown)} for generator = \"folders\"; "
                          f"known: {', '.join(FOLDER_KEYS)}")
    sources = []
    for side in ("a", "b"):
        path = spec.get(side)
        if not isinstance(path, str) or not os.path.exists(os.path.expanduser(path)):
            raise RecipeError(f"{where}: [dataset] {side} = {path!r} is not a file or folder; point it at "
                              f"domain {side.upper()}'s videos (a folder of video files, or of frame folders)")
        sources.append(data.as_source(os.path.expanduser(path)))
    size = spec.get("size")
    if size is None:  # the first video's frame size; every video is resized to it
        size = sources[0].read(0, 0, 1).shape[1:3]
    elif not (isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size)):
        raise RecipeError(f"{where}: [dataset] size must be [height, width] of whole numbers >= 1, found {size!r}")
    domains = spec.get("domains", ["a", "b"])
    if not (isinstance(domains, list) and len(domains) == 2 and all(isinstance(d, str) for d in domains)):
        raise RecipeError(f"{where}: [dataset] domains must be two names, found {domains!r}")
    # Video files and image frames are read as RGB.
    return RecipeData(sources[0], sources[1], None, (int(size[0]), int(size[1]), 3), 3, tuple(domains),
                      resize=(int(size[0]), int(size[1])))


def load_data(recipe):
    """The recipe's dataset: a synthetic generator's split, the GTA reader, or two user folders."""
    spec = dict(recipe.dataset)
    generator = spec.pop("generator")
    if generator == "folders":
        return _user_folders(recipe, spec)
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


def build_model(recipe, recipe_data):
    """The recipe's CycleGAN; a 2D width of "match-3d" copies the 3D model's parameter count."""
    m = recipe.model
    if m["init_from"]:
        return _from_preset(recipe, recipe_data)
    common = dict(channels_b=recipe_data.channels_b, num_blocks=m["num_blocks"],
                  discriminator_layers=m["discriminator_layers"], domains=recipe_data.domains,
                  upsampling=m["upsampling"])
    only_3d = dict(temporal_stride=m["temporal_stride"], stem_kernel_size=m["stem_kernel_size"],
                   norm=m["norm"], discriminator_temporal_kernel=m["discriminator_temporal_kernel"])
    frame = tuple(recipe_data.frame_shape)
    shape_3d = (m["clip_length"],) + frame
    name = "v2v_" + recipe.name.replace("-", "_")
    if recipe.is_3d:
        return cyclegan_3d(shape_3d, filters=m["filters"], discriminator_filters=m["discriminator_filters"],
                           name=name, **common, **only_3d)
    filters, disc_filters = m["filters"], m["discriminator_filters"]

    def generator_args(rank, width):
        # The generator cyclegan_3d / cyclegan_2d would build, without the rest of a CycleGAN.
        args = dict(rank=rank, channels=frame[-1], out_channels=recipe_data.channels_b, filters=width,
                    num_blocks=m["num_blocks"], upsampling=m["upsampling"])
        if rank == 3:
            args.update(temporal_stride=m["temporal_stride"], stem_kernel_size=m["stem_kernel_size"], norm=m["norm"])
        return args

    if filters == "match-3d":
        # Paper sec. 5.2: baselines get the 3D generator's parameter count.
        if not m["reference_3d_filters"]:
            raise RecipeError(f"{recipe.path or recipe.name}: filters = \"match-3d\" needs "
                              "[model] reference_3d_filters (the 3D model's width)")
        target = resnet_generator(**generator_args(3, m["reference_3d_filters"]))
        filters = matched_width(lambda f: resnet_generator(**generator_args(2, f)), target.count_params())
        disc_filters = filters
    return cyclegan_2d(frame, filters=filters, discriminator_filters=disc_filters, name=name, **common)


def _from_preset(recipe, recipe_data):
    """The recipe's model started from a trained preset: itself (2D) or inflated to 3D (I3D-style)."""
    from keras_v2v.models.inflate import inflate
    from keras_v2v.presets import from_pretrained

    m, where = recipe.model, recipe.path or recipe.name
    base = from_pretrained(m["init_from"])
    frame = tuple(recipe_data.frame_shape)
    if base.sample_shape[-1] != frame[-1] or base.channels_b != recipe_data.channels_b:
        raise RecipeError(
            f"{where}: [model] init_from = {m['init_from']!r} translates {base.sample_shape[-1]} -> "
            f"{base.channels_b} channels, but the recipe's data has {frame[-1]} -> {recipe_data.channels_b}")
    name = "v2v_" + recipe.name.replace("-", "_")
    if not recipe.is_3d:
        if base.rank != 2:
            raise RecipeError(f"{where}: method {recipe.method!r} needs a 2D preset in init_from, "
                              f"{m['init_from']!r} is {base.rank}D")
        base.sample_shape = frame
        return base
    if base.rank == 3:
        return base
    if len(base.discriminators) < 2:
        raise RecipeError(f"{where}: [model] init_from = {m['init_from']!r} has no discriminators to train with; "
                          "convert it with `keras-v2v convert ... --discriminators fresh`")
    base.sample_shape = frame  # the recipe's frames (a user folder's size may differ from the preset's)
    return inflate(base, clip_length=m["clip_length"], temporal_kernel=m["temporal_kernel"],
                   stem_temporal_kernel=m["stem_temporal_kernel"], name=name)


def matched_width(build, target_params, widest=256):
    """The width whose network (`build(width)`) has the parameter count closest to `target_params`.

    Parameter counts grow with the width, so a bisection finds the first width at or above
    the target in a few builds (a scan from width 1 took 9 s of a 2D recipe's start-up).
    """
    low, high = 1, widest
    while low < high:
        middle = (low + high) // 2
        if build(middle).count_params() >= target_params:
            high = middle
        else:
            low = middle + 1
    candidates = [w for w in (low - 1, low) if w >= 1]
    # Ties go to the narrower width.
    return min(candidates, key=lambda w: (abs(build(w).count_params() - target_params), w))


def compile_model(model, recipe):
    t = recipe.training

    def optimizer():
        rate = t["learning_rate"]
        if t["lr_decay"]:
            # The reference schedule: constant for the first half, then linearly to zero.
            half = t["steps"] // 2
            rate = HoldThenLinearDecay(rate, half, t["steps"] - half)
        return keras.optimizers.Adam(rate, beta_1=t["beta_1"])

    model.compile(generator_optimizer=optimizer(), discriminator_optimizer=optimizer(), gan_loss=t["gan_loss"],
                  lambda_cycle=t["lambda_cycle"], lambda_identity=t["lambda_identity"],
                  lambda_temporal=recipe.lambda_temporal, lambda_warp=t["lambda_warp"],
                  pool_size=t["pool_size"], seed=t["seed"], conv_precision=t["conv_precision"])
    return model


def batch_size(recipe):
    """The global batch: [training] batch_size, else 1 clip (3D) or clip_length frames (2D)."""
    return recipe.training["batch_size"] or (1 if recipe.is_3d else recipe.model["clip_length"])


def batches(recipe, recipe_data):
    """Paper Fig. 4: clips for 3D, random or sequential frames for 2D."""
    mode = {"3d": "clips", "2d-random": "random"}.get(recipe.method, "sequential")
    clip_length = recipe.model["clip_length"]
    crop = recipe.training["crop_size"]
    return data.UnpairedVideoDataset(
        recipe_data.train_a, recipe_data.train_b, mode=mode, batch_size=batch_size(recipe),
        clip_length=clip_length, crop_size=tuple(crop) if crop else None, resize=recipe_data.resize,
        steps_per_epoch=recipe.training["chunk"], seed=recipe.training["seed"],
        flows=bool(recipe.training["lambda_warp"]) and recipe.is_3d,
    )

"""Model cards: the README.md of a preset folder, with Hugging Face Hub metadata.

The YAML front matter follows the Hub's model card spec (library_name,
tags, datasets, model-index with the measured metrics), so the Hub shows
the numbers `keras-v2v evaluate` produced.
"""

METHOD_TEXT = {
    "3d": "3D (spatio-temporal) CycleGAN trained on clips of consecutive frames",
    "2d-random": "framewise 2D CycleGAN trained on random frames from many videos (paper's \"random\" baseline)",
    "2d-sequential": "framewise 2D CycleGAN trained on consecutive frames of one video per batch "
                     "(paper's \"sequential\" baseline)",
    "2d-const": "framewise 2D CycleGAN on consecutive frames with the temporal \"const\" penalty (paper eq. 2)",
}


def _yaml_list(key, values, indent=""):
    return [f"{indent}{key}:"] + [f"{indent}- {v}" for v in values]


def _front_matter(info, metrics):
    lines = ["---", "library_name: keras", "license: apache-2.0"]
    lines += _yaml_list("tags", ["keras-v2v", "video-to-video", "cyclegan", "unpaired-image-translation",
                                 f"method-{info.get('method', 'custom')}"])
    if info.get("hf_datasets"):
        lines += _yaml_list("datasets", info["hf_datasets"])
    if metrics:
        lines += [
            "model-index:",
            f"- name: {info.get('name', 'keras-v2v-model')}",
            "  results:",
            "  - task:",
            "      type: image-to-image",
            f"      name: {info.get('task', 'video-to-video translation')}",
            "    dataset:",
            f"      name: {info.get('dataset_name', 'held-out split')}",
            f"      type: {info.get('dataset_type', 'synthetic')}",
            "    metrics:",
        ]
        for name, value in metrics.items():
            if isinstance(value, (int, float)):
                lines += [f"    - type: {name}", f"      value: {round(float(value), 4)}", f"      name: {name}"]
    lines.append("---")
    return lines


def _channels(n):
    return {1: "grey, 1 channel", 3: "RGB, 3 channels"}.get(n, f"{n} channels")


def model_card(model, info):
    """README.md text for `model`; `info` holds what is known (keras_v2v.json fields)."""
    name = info.get("name", model.name)
    a, b = model.domains
    metrics = (info.get("evaluation") or {}).get("metrics", {})
    lines = _front_matter(info, metrics) + ["", f"# {name}", ""]
    lines.append(info.get("description") or f"A CycleGAN translating `{a}` <-> `{b}`.")
    lines += [
        "",
        f"- method: {METHOD_TEXT.get(info.get('method'), 'custom')}",
        f"- domains: A = `{a}` ({_channels(model.channels_a)}), B = `{b}` ({_channels(model.channels_b)})",
        f"- one training sample: `{list(model.sample_shape)}`"
        + (" (frames, height, width, channels); any length and size translate" if model.rank == 3
           else " (height, width, channels); videos are translated frame by frame"),
        f"- parameters: {model.generator_a2b.count_params():,} per generator, {model.count_params():,} in all",
        f"- weights stored as {info.get('weights_dtype', 'float32')} (computed in float32)",
        "",
        "## Use",
        "",
        "```python",
        "import keras_v2v as v2v",
        f'model = v2v.from_pretrained("{name}")',
        'out = model.translate(video, direction="a2b")  # (T, H, W, C) uint8 or float in [0, 1]',
        "```",
        "",
        f"or `keras-v2v translate in.mp4 out.mp4 --model {name} --side-by-side`. "
        "`keras.saving.load_model` also reads this folder once `import keras_v2v` has run: Keras 3 "
        "finds custom classes only through its registry, which that import fills.",
    ]
    training = info.get("training")
    if training:
        lines += ["", "## Training", "", training.get("summary", ""), ""]
        for key in ("steps", "train_minutes", "machine", "command"):
            if key in training:
                lines.append(f"- {key.replace('_', ' ')}: {training[key]}")
        lines.append("- recipe: `recipe.toml` in this folder (`keras-v2v train recipe.toml` retrains it)")
    evaluation = info.get("evaluation")
    if evaluation:
        lines += ["", "## Evaluation", "", f"Measured with `{evaluation['command']}` "
                  f"({evaluation.get('videos', '?')} held-out videos, {evaluation.get('machine', '')}):", "",
                  "| metric | value |", "|---|---|"]
        for key, value in metrics.items():
            lines.append(f"| {key} | {value:.4f} |" if isinstance(value, float) else f"| {key} | {value} |")
        if evaluation.get("notes"):
            lines += ["", evaluation["notes"]]
    if info.get("limitations"):
        lines += ["", "## Limitations", "", info["limitations"]]
    if info.get("data_licence"):
        lines += ["", "## Data", "", info["data_licence"]]
    lines += ["", "Made with [keras-v2v](https://github.com/keras-v2v/keras-v2v).", ""]
    return "\n".join(lines)

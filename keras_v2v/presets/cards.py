"""Model cards: the README.md of a preset folder, written through huggingface_hub.

The YAML front matter is built by `huggingface_hub.ModelCardData`, its
model-index from `EvalResult`s, so any preset name or task is quoted as YAML
needs (`my model: v2`, `[wip] seg2rgb`, `yes`) and the card loads back with
`ModelCard.load`. The model-index holds only numbers that describe the
model's output; counts (`num_volumes`) and ground-truth statistics (`gt_*`)
stay in keras_v2v.json and the card's text.

`card_from_spec(spec)` renders a card from a keras_v2v.json alone, so cards
can be rewritten without loading (or retraining) the model.
"""

import json
import math
import re

from keras_v2v.presets.spec import model_spec, parameter_counts

LIBRARY_NAME = "keras"
LICENSE = "apache-2.0"
# The Hub's task for models that take a video and return a video (a pipeline
# tag of the Hub's task list; huggingface_hub ships no list of them to check).
PIPELINE_TAG = "video-to-video"
TAGS = ("keras-v2v", "video-to-video", "cyclegan", "unpaired-image-translation")
FRONT_MATTER_ORDER = ["library_name", "license", "pipeline_tag", "base_model", "tags", "datasets"]
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")

METHOD_TEXT = {
    "3d": "3D (spatio-temporal) CycleGAN trained on clips of consecutive frames",
    "2d-random": "framewise 2D CycleGAN trained on random frames from many videos (paper's \"random\" baseline)",
    "2d-sequential": "framewise 2D CycleGAN trained on consecutive frames of one video per batch "
                     "(paper's \"sequential\" baseline)",
    "2d-const": "framewise 2D CycleGAN on consecutive frames with the temporal \"const\" penalty (paper eq. 2)",
}
_COUNT_PREFIXES = ("num_", "n_")
_REFERENCE_PREFIXES = ("gt_",)


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def card_metrics(metrics, headline=None):
    """{name: value} of the metrics that describe the model, headline first.

    Counts (num_*) and ground-truth statistics (gt_*: properties of the data,
    not of the model) are left out; so is anything that is not a finite number.
    """
    kept = {k: float(v) for k, v in (metrics or {}).items()
            if _number(v) and not k.startswith(_COUNT_PREFIXES + _REFERENCE_PREFIXES)}
    if headline in kept:
        kept = {headline: kept[headline], **{k: v for k, v in kept.items() if k != headline}}
    return kept


def _significant(value):
    return float(f"{value:.6g}")


def eval_results(spec):
    """huggingface_hub EvalResults for the spec's evaluation (empty when there is none)."""
    from huggingface_hub import EvalResult

    evaluation = spec.get("evaluation") or {}
    headline = (evaluation.get("headline") or {}).get("name")
    metrics = card_metrics(evaluation.get("metrics"), headline)
    dataset = str(spec.get("dataset_name") or "custom")
    return [
        EvalResult(
            task_type=PIPELINE_TAG,
            task_name=str(spec.get("task") or "video-to-video translation"),
            dataset_type=dataset,
            dataset_name=f"{dataset} (held-out split)",
            dataset_split="test",
            metric_type=name,
            metric_name=name,
            metric_value=_significant(value),
        )
        for name, value in metrics.items()
    ]


def card_data(spec):
    """The card's front matter as a huggingface_hub ModelCardData."""
    from huggingface_hub import ModelCardData

    results = eval_results(spec)
    tags = list(TAGS) + [f"method-{spec.get('method') or 'custom'}"]
    if spec.get("generators_only"):
        tags.append("generators-only")
    base = spec.get("base_model")
    return ModelCardData(
        library_name=LIBRARY_NAME,
        # The Hub links a fine-tuned model to its base through this field; it takes repo ids only.
        base_model=base if isinstance(base, str) and _REPO_ID.match(base) else None,
        license=LICENSE,
        pipeline_tag=PIPELINE_TAG,
        tags=tags,
        datasets=list(spec.get("hf_datasets") or []) or None,
        model_name=str(spec.get("name") or "keras-v2v-model") if results else None,
        eval_results=results or None,
    )


def _channels(n):
    return {1: "grey, 1 channel", 3: "RGB, 3 channels"}.get(n, f"{n} channels")


def _parameters_line(spec):
    counts = parameter_counts(spec)
    g_ab, g_ba = counts.get("generator_a2b"), counts.get("generator_b2a")
    if g_ab is None:
        return None
    generators = (f"{g_ab:,} in each generator" if g_ba in (None, g_ab)
                  else f"{g_ab:,} (a2b) and {g_ba:,} (b2a) in the generators")
    if spec.get("generators_only"):
        return (f"- parameters: {generators}; no discriminators (saved for inference: it translates but "
                "cannot be fine-tuned)")
    d_a, d_b = counts.get("discriminator_a"), counts.get("discriminator_b")
    if d_a is None:
        return f"- parameters: {generators}"
    discriminators = (f"{d_a:,} in each discriminator" if d_b in (None, d_a)
                      else f"{d_a:,} (A) and {d_b:,} (B) in the discriminators")
    total = counts.get("generators", 0) + counts.get("discriminators", 0)
    return (f"- parameters: {generators}, {discriminators}; {total:,} in all four networks "
            "(the history pools that training adds are buffers, not counted)")


def _format(value):
    return f"{value:.4f}" if isinstance(value, float) else f"{value}"


def _body(spec):
    name = str(spec.get("name") or "keras-v2v-model")
    a, b = (list(spec.get("domains") or ("a", "b")) + ["a", "b"])[:2]
    channels = spec.get("channels") or {}
    shape = list(spec.get("input_shape") or [])
    rank = spec.get("rank") or (len(shape) - 1 if shape else None)
    lines = [f"# {name}", "", spec.get("description") or f"A CycleGAN translating `{a}` <-> `{b}`.", "",
             f"- method: {METHOD_TEXT.get(spec.get('method'), 'custom')}",
             f"- domains: A = `{a}` ({_channels(channels.get('a'))}), B = `{b}` ({_channels(channels.get('b'))})"]
    if shape:
        lines.append(f"- one training sample: `{shape}`"
                     + (" (frames, height, width, channels); any length and size translate" if rank == 3
                        else " (height, width, channels); videos are translated frame by frame"))
    if spec.get("base_model"):
        base = str(spec["base_model"])
        link = f"[{base}](https://huggingface.co/{base})" if _REPO_ID.match(base) else f"`{base}`"
        lines.append(f"- fine-tuned from {link}")
    parameters = _parameters_line(spec)
    if parameters:
        lines.append(parameters)
    lines += [
        f"- weights stored as {spec.get('weights_dtype', 'float32')} (computed in float32)",
        "",
        "## Use",
        "",
        "```python",
        "import keras_v2v as v2v",
        f"model = v2v.from_pretrained({json.dumps(name)})",
        'video = v2v.data.read_video("in.mp4")  # (T, H, W, 3) uint8; read_volume for NIfTI / DICOM',
        'out = model.translate(video, direction="a2b")  # grey <-> RGB converted to the model\'s channels',
        "```",
        "",
        f"or `keras-v2v translate in.mp4 out.mp4 --model {name} --side-by-side`. "
        "`keras.saving.load_model` also reads this folder once `import keras_v2v` has run: Keras 3 "
        "finds custom classes only through its registry, which that import fills.",
    ]
    training = spec.get("training")
    if training:
        lines += ["", "## Training", "", training.get("summary", ""), ""]
        for key in ("steps", "train_minutes", "machine", "command"):
            if key in training:
                lines.append(f"- {key.replace('_', ' ')}: {training[key]}")
        lines.append("- recipe: `recipe.toml` in this folder (`keras-v2v train recipe.toml` retrains it)")
    lines += _evaluation_section(spec)
    if spec.get("limitations"):
        lines += ["", "## Limitations", "", spec["limitations"]]
    if spec.get("data_licence"):
        lines += ["", "## Data", "", spec["data_licence"]]
    lines += ["", "Made with [keras-v2v](https://github.com/keras-v2v/keras-v2v).", ""]
    return "\n".join(lines)


def _evaluation_section(spec):
    evaluation = spec.get("evaluation")
    if not evaluation:
        return []
    metrics = evaluation.get("metrics") or {}
    headline = evaluation.get("headline") or {}
    shown = card_metrics(metrics, headline.get("name"))
    where = ", ".join(str(x) for x in (
        f"{evaluation['videos']} held-out videos" if evaluation.get("videos") else None,
        evaluation.get("machine")) if x)
    lines = ["", "## Evaluation", ""]
    lines.append(f"Measured with `{evaluation['command']}`" + (f" ({where})" if where else "") + ":"
                 if evaluation.get("command") else (f"Measured on {where}:" if where else "Measured:"))
    lines += ["", "| metric | value |", "|---|---|"]
    lines += [f"| {key} | {_format(value)} |" for key, value in shown.items()]
    if headline.get("describe"):
        better = "lower" if headline.get("lower_is_better") else "higher"
        lines += ["", f"Headline: {headline['describe']}; {better} is better."]
    reference = {k: v for k, v in metrics.items() if k.startswith(_REFERENCE_PREFIXES) and _number(v)}
    if reference:
        lines += ["", "The same statistics of the ground truth, for reference (properties of the data, not "
                  "of the model): " + ", ".join(f"{k[3:]} {_format(float(v))}" for k, v in reference.items()) + "."]
    if evaluation.get("notes"):
        lines += ["", evaluation["notes"]]
    return lines


def card_from_spec(spec):
    """README.md text for a preset whose keras_v2v.json holds `spec`."""
    from huggingface_hub import ModelCard

    data = card_data(spec)
    text = f"---\n{data.to_yaml(original_order=FRONT_MATTER_ORDER)}\n---\n\n{_body(spec)}"
    return ModelCard(text).content  # parses it back: a card the Hub cannot read fails here, not there


def model_card(model, info):
    """README.md text for `model`; `info` holds what is known beyond the model (keras_v2v.json fields)."""
    return card_from_spec({**model_spec(model), **(info or {})})

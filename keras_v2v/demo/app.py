"""The Gradio page around `core`: upload, preset, direction, translation, plot.

``build_app`` returns the queued ``gr.Blocks``; ``launch`` serves it (the
``keras-v2v demo`` command and ``apps/app.py``). Gradio is imported only here.
"""

import logging
import os

from keras_v2v.demo.core import (
    CONCURRENCY_LIMIT,
    GPU_DURATION_S,
    MAX_QUEUE,
    TITLE,
    UPLOAD_SUFFIXES,
    DemoInputError,
    Limits,
    device_info,
    load_model,
    read_clip,
    resolve_presets,
    size_text,
    translate_clip,
    with_extra_presets,
)
from keras_v2v.demo.expects import first_screen

logger = logging.getLogger(__name__)


def _gpu(fn):
    """``spaces.GPU`` (ZeroGPU Spaces) when the package imports; ``fn`` unchanged otherwise."""
    try:
        import spaces
    except Exception:
        return fn
    try:
        return spaces.GPU(duration=GPU_DURATION_S)(fn)
    except Exception:  # an incompatible `spaces` must not take the demo down
        logger.exception("spaces.GPU could not wrap the handler; running without it")
        return fn


def _preset_table(presets):
    if not presets:
        return (
            "No presets are installed. Install keras-v2v with its bundled presets, or pass "
            "`presets={name: folder}` to `keras_v2v.demo.build_app`."
        )
    rows = ["| preset | task | method | A -> B | metric | description |", "|---|---|---|---|---|---|"]
    for p in presets.values():
        method = p.method or (f"{p.rank}d" if p.rank else "")
        baseline = f" (vs {p.baseline})" if p.baseline else ""
        domains = " -> ".join(str(d) for d in p.domains[:2])
        rows.append(
            f"| `{p.name}` | {p.task} | {method}{baseline} | {domains} | {p.metric} | {p.description} |"
        )
    return "\n".join(rows)


def _direction_choices(preset):
    a, b = (preset.domains[:2] if preset else ("A", "B"))
    return [(f"A -> B ({a} -> {b})", "a2b"), (f"B -> A ({b} -> {a})", "b2a")]


def _preset_help(preset):
    if preset is None:
        return ""
    text = preset.description or f"Translates {preset.domains[0]} <-> {preset.domains[1]}."
    if preset.baseline:
        text += f" The plot compares it with its framewise 2D baseline `{preset.baseline}`."
    return text


def _curves_frame(curves):
    import pandas as pd

    rows = [
        {"frame": t + 1, "change": float(v), "series": name}
        for name, values in curves.items()
        for t, v in enumerate(values)
    ]
    return pd.DataFrame(rows, columns=["frame", "change", "series"])


def _status(notices, summary=None, error=None):
    parts = []
    if error:
        parts.append(f"**Error:** {error}")
    parts += [f"**Notice:** {n}" for n in notices]
    if summary:
        parts.append(summary)
    return "\n\n".join(parts)


def _first_line(error):
    text = " ".join(str(error).split())
    return text or type(error).__name__


def preload(presets):
    """Load every preset of ``{name: Preset}`` into the cache now; returns ``{name: reason}`` for failures.

    A failure is one log line (no traceback): a missing preset is an expected
    state of a Space (nothing published yet), not a crash.
    """
    failed = {}
    for preset in presets.values():
        try:
            load_model(preset.source)
        except Exception as error:  # from_pretrained raises many kinds for missing or broken weights
            failed[preset.name] = _first_line(error)
            logger.warning("could not load preset %s: %s", preset.name, failed[preset.name])
    return failed


def _not_loaded(failed):
    """One notice for the presets that could not load: each reason for a few, the first for many."""
    if len(failed) <= 3:
        return "Could not load " + "; ".join(f"`{n}` ({why})" for n, why in failed.items()) + "."
    first, why = next(iter(failed.items()))
    names = ", ".join(f"`{n}`" for n in failed)
    return f"Could not load {len(failed)} presets: {names}. The first said: {why}"


def build_app(
    presets=None,
    *,
    limits=None,
    concurrency_limit=CONCURRENCY_LIMIT,
    max_queue=MAX_QUEUE,
    title=TITLE,
    preload_models=False,
    notices=(),
):
    """The demo as a ``gr.Blocks`` (queued); ``launch`` serves it.

    Args:
        presets: None for the bundled zoo presets (``keras_v2v.list_pretrained()``
            entries whose weights are bundled or cached), or a mapping
            ``{name: preset folder | list_pretrained-style dict | Preset}``.
        limits: ``Limits`` for uploads; None for the module constants.
        concurrency_limit: translations running at once.
        max_queue: requests that may wait; more are turned away.
        preload_models: load every preset now rather than on its first request;
            presets that fail to load are left out and named once in the page.
        notices: lines shown once at the top of the page (e.g. presets a Space lacks).
    """
    import gradio as gr

    limits = limits or Limits()
    table = resolve_presets(presets)
    notices = list(notices)
    if preload_models:
        failed = preload(table)
        if failed:
            table = resolve_presets({n: p for n, p in table.items() if n not in failed})
            notices.append(_not_loaded(failed))
    names = list(table)
    first = table[names[0]] if names else None
    device = device_info()

    def on_preset(name, direction):
        preset = table.get(name)
        return (
            gr.update(choices=_direction_choices(preset), value=direction or "a2b"),
            _preset_help(preset),
        )

    def inspect_upload(path):
        if not path:
            return ""
        try:
            clip = read_clip(path, limits)
        except DemoInputError as e:
            return _status([], error=str(e))
        except Exception as e:  # never a crash in the page
            logger.exception("inspecting an upload failed")
            return _status([], error=f"Could not read the upload ({type(e).__name__}: {e}).")
        t, h, w = clip.frames.shape[:3]
        ready = f"Ready: {t} frames of {size_text(h, w)} at {clip.fps:.3g} fps. Press Translate."
        return _status(clip.notices, ready)

    @_gpu
    def translate(path, name, direction, progress=gr.Progress()):
        def report(fraction, desc=None):
            progress(min(max(fraction, 0.0), 1.0), desc=desc)

        try:
            result = translate_clip(path, name, direction, presets=table, limits=limits, progress=report)
        except DemoInputError as e:
            gr.Warning(str(e))
            return None, None, None, _status([], error=str(e))
        except Exception as e:  # never a crash in the page
            logger.exception("translation failed")
            message = f"Translation failed ({type(e).__name__}: {e})."
            gr.Warning(message)
            return None, None, None, _status([], error=message)
        return (
            result.video,
            result.side_by_side,
            _curves_frame(result.curves),
            _status(result.notices, result.summary),
        )

    with gr.Blocks(title=title, analytics_enabled=False, delete_cache=(3600, 3600)) as app:
        gr.Markdown(
            f"# {title}\n\nTranslate a short clip with a 3D (spatio-temporal) CycleGAN and compare "
            "its temporal consistency with the framewise 2D baseline. "
            f"Running on **{device}**."
        )
        if table:
            # First screen: what each preset learned from, since real footage is not it.
            gr.Markdown(first_screen(table.values()), elem_id="v2v-trained-on")
        if notices:
            gr.Markdown("\n\n".join(f"**Notice:** {n}" for n in notices), elem_id="v2v-notices")
        # Made here, placed below: the examples that fill them come first on the page.
        upload = gr.File(
            label="Clip (mp4, webm, mov, gif)",
            file_types=list(UPLOAD_SUFFIXES),
            type="filepath",
            elem_id="v2v-upload",
            render=False,
        )
        preset = gr.Dropdown(
            choices=names,
            value=names[0] if names else None,
            label="Preset",
            elem_id="v2v-preset",
            render=False,
        )
        # Full width above the inputs and the plot, so a first-time visitor sees them at once (on a
        # phone too, where the columns stack). Clip and preset only: the direction's labels depend on
        # the preset, and picking the preset resets them (on_preset).
        # One row per clip (with the first preset that has it: the 3D ones come first), so the
        # table stays short; the 2D baselines are compared in the plot anyway.
        by_clip = {}
        for p in table.values():
            if p.sample_clip and os.path.isfile(p.sample_clip):
                by_clip.setdefault(os.path.abspath(p.sample_clip), [p.sample_clip, p.name])
        examples = list(by_clip.values())
        if examples:
            gr.Examples(
                examples,
                inputs=[upload, preset],
                label="Examples: pick one, then press Translate",
                cache_examples=False,
                elem_id="v2v-examples",
            )
        with gr.Row():
            with gr.Column(scale=1):
                upload.render()
                preset.render()
                preset_help = gr.Markdown(_preset_help(first))
                direction = gr.Radio(
                    choices=_direction_choices(first), value="a2b", label="Direction", elem_id="v2v-direction"
                )
                button = gr.Button("Translate", variant="primary", elem_id="v2v-translate")
                gr.Markdown(f"**Limits.** {limits.describe()}", elem_id="v2v-limits")
            with gr.Column(scale=2):
                status = gr.Markdown(label="Status", elem_id="v2v-status")
                with gr.Row():
                    output = gr.Video(label="Translation", elem_id="v2v-output", loop=True, autoplay=True)
                    side = gr.Video(label="Side by side (input | output | 2D baseline)", elem_id="v2v-side-by-side",
                                    loop=True, autoplay=True)
                plot = gr.LinePlot(
                    x="frame",
                    y="change",
                    color="series",
                    title="Temporal consistency: mean |frame t - frame t-1|",
                    x_title="frame",
                    y_title="change (0-1)",
                    label="Frame-to-frame change",
                    elem_id="v2v-plot",
                )
        with gr.Accordion("Presets", open=False):
            gr.Markdown(_preset_table(table))

        # Page plumbing, not an API: hidden from the API page and from gradio_client.
        preset.change(on_preset, [preset, direction], [direction, preset_help], queue=False,
                      api_name="on_preset", api_visibility="private")
        upload.change(inspect_upload, upload, status, concurrency_limit=4, api_name="inspect")
        button.click(
            translate,
            [upload, preset, direction],
            [output, side, plot, status],
            api_name="translate",
            concurrency_limit=concurrency_limit,
        )
    app.queue(default_concurrency_limit=concurrency_limit, max_size=max_queue)
    app.v2v_presets = table
    app.v2v_limits = limits
    return app


def launch_kwargs(app):
    """What ``launch`` passes to ``Blocks.launch`` for the demo's limits."""
    limits = getattr(app, "v2v_limits", None) or Limits()
    folders = sorted(
        {os.path.dirname(os.path.abspath(p.sample_clip))
         for p in getattr(app, "v2v_presets", {}).values() if p.sample_clip}
    )
    return {"max_file_size": int(limits.max_upload_mb * 2**20), "allowed_paths": folders}


def launch(host="127.0.0.1", port=7860, share=False, *, app=None, presets=None, limits=None, **kwargs):
    """Build (unless ``app`` is given) and serve the demo; blocks unless ``prevent_thread_lock=True``.

    ``host``/``port`` None leave them to Gradio (``GRADIO_SERVER_NAME`` /
    ``GRADIO_SERVER_PORT``, which Hugging Face Spaces set). Other keyword
    arguments go to ``gr.Blocks.launch``. Returns the app.
    """
    app = app or build_app(presets=presets, limits=limits)
    options = launch_kwargs(app)
    options.update(kwargs)
    app.launch(server_name=host, server_port=port, share=share, **options)
    return app


def demo_command(args):
    """``keras-v2v demo [--presets a,b]``: serve the demo until interrupted."""
    extra = [n.strip() for n in (getattr(args, "presets", None) or "").split(",") if n.strip()]
    launch(
        host=getattr(args, "host", "127.0.0.1"),
        port=getattr(args, "port", 7860),
        share=bool(getattr(args, "share", False)),
        presets=with_extra_presets(extra) if extra else None,
    )
    return 0

"""The Gradio demo: upload a clip, pick a preset and a direction, get the translation.

    keras-v2v demo [--host 127.0.0.1] [--port 7860] [--share]
    python apps/app.py                      # the same app, as a Hugging Face Space runs it

`core` holds everything but the page (limits, the preset table, reading an
upload, translating it, the temporal-consistency curves) and never imports
Gradio; `app` builds and serves the page.
"""

from keras_v2v.demo.app import build_app, launch, launch_kwargs, preload
from keras_v2v.demo.core import (
    CONCURRENCY_LIMIT,
    DEFAULT_FPS,
    DEFAULT_PRESET,
    MAX_FRAMES,
    MAX_QUEUE,
    MAX_SECONDS,
    MAX_SIDE,
    MAX_SOURCE_PIXELS,
    MAX_UPLOAD_MB,
    Clip,
    DemoInputError,
    Limits,
    Preset,
    Result,
    bundled_presets,
    clear_model_cache,
    device_info,
    frame_changes,
    load_model,
    read_clip,
    resolve_presets,
    translate_clip,
)

__all__ = [
    "CONCURRENCY_LIMIT",
    "DEFAULT_FPS",
    "DEFAULT_PRESET",
    "MAX_FRAMES",
    "MAX_QUEUE",
    "MAX_SECONDS",
    "MAX_SIDE",
    "MAX_SOURCE_PIXELS",
    "MAX_UPLOAD_MB",
    "Clip",
    "DemoInputError",
    "Limits",
    "Preset",
    "Result",
    "build_app",
    "bundled_presets",
    "clear_model_cache",
    "device_info",
    "frame_changes",
    "launch",
    "launch_kwargs",
    "load_model",
    "preload",
    "read_clip",
    "resolve_presets",
    "translate_clip",
]

"""Hugging Face Space entry point for the keras-v2v demo (also runs from a clone).

    python apps/app.py            # from a clone: http://127.0.0.1:7860
    keras-v2v demo                # the same app, installed

On a Space, requirements.txt installs keras-v2v and the Space runs this file;
GRADIO_SERVER_NAME / GRADIO_SERVER_PORT, which Spaces set, choose the
address. The app itself is keras_v2v.demo.build_app.

Presets: the bundled ones (the repository's zoo/, found beside the package in
a clone, or a zoo/ folder copied next to this file), plus, on a Space, those
published on the Hugging Face Hub (downloaded on first use).
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
if os.path.isdir(os.path.join(HERE, "zoo")):  # a Space holding zoo/ (and examples/media/)
    os.environ.setdefault("KERAS_V2V_ZOO", os.path.join(HERE, "zoo"))

try:
    import keras_v2v  # noqa: F401
except ImportError:  # a clone without `pip install -e .`: use the package beside apps/
    sys.path.insert(0, os.path.dirname(HERE))

from keras_v2v import demo as v2v_demo  # noqa: E402

ON_SPACE = bool(os.environ.get("SPACE_ID"))

# Module level, so `gradio apps/app.py` (auto-reload) finds it too.
# On a Space, load the models at start-up so the first visitor does not wait for them.
demo = v2v_demo.build_app(
    presets=v2v_demo.bundled_presets(include_hub=ON_SPACE), preload_models=ON_SPACE
)

if __name__ == "__main__":
    v2v_demo.launch(
        host=os.environ.get("GRADIO_SERVER_NAME") or ("0.0.0.0" if ON_SPACE else "127.0.0.1"),
        port=int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        app=demo,
    )

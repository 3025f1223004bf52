"""Hugging Face Space entry point for the keras-v2v demo.

`keras-v2v space OUT_DIR` writes this file with everything the Space needs beside it: the
keras_v2v package, the chosen presets (presets/), their sample clips (examples/) and
space.json, the list of them. From a clone, `python apps/app.py` serves the repository's
bundled zoo instead. GRADIO_SERVER_NAME / GRADIO_SERVER_PORT (set by Spaces) choose the address.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # a Space folder's own keras_v2v copy wins over an installed one

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

try:
    import keras_v2v  # noqa: F401
except ImportError:  # apps/ in a clone without `pip install -e .`: the package beside apps/
    sys.path.insert(0, os.path.dirname(HERE))

from keras_v2v.demo import space  # noqa: E402

# Module level, so `gradio app.py` (auto-reload) finds it too.
demo = space.folder_app(HERE)

if __name__ == "__main__":
    space.launch_folder_app(demo)

"""Scores a model on its recipe's held-out split: the numbers a model card reports.

Each synthetic dataset has paired ground truth, so every task has a metric:
volumetric MNIST and the head phantoms use the L2 of Table 2, coloured
moving MNIST the shape/colour metrics of Table 1, the street scenes the
pixel accuracy of Table 4 (the b2a direction, video -> segmentation).
"""

import dataclasses
import os
import platform

import numpy as np

from keras_v2v.evaluation.motion import evaluate_motion
from keras_v2v.evaluation.table1 import evaluate_table1
from keras_v2v.evaluation.table2 import evaluate_table2
from keras_v2v.evaluation.table4 import evaluate_table4


@dataclasses.dataclass(frozen=True)
class TaskMetric:
    direction: str
    headline: str  # key of the headline metric
    lower_is_better: bool
    describe: str


TASK_METRICS = {
    "volumetric_mnist": TaskMetric("a2b", "L", True, "L = 255 x RMSE to ground truth (paper Table 2)"),
    "head_phantoms": TaskMetric("a2b", "L", True, "L = 255 x RMSE of the translated CT to the paired CT"),
    "coloured_moving_mnist": TaskMetric("a2b", "shape_l2", True,
                                        "shape L2 (% of digit-mask pixels that disagree, paper Table 1)"),
    "synthetic_street": TaskMetric("b2a", "pixel_accuracy_denoise0", False,
                                   "pixel accuracy of rgb -> segmentation (paper Table 4)"),
}


def task_metric(generator):
    if generator not in TASK_METRICS:
        raise ValueError(f"No held-out metric for dataset {generator!r}; "
                         f"known: {', '.join(sorted(TASK_METRICS))}")
    return TASK_METRICS[generator]


def translate_all(model, videos, direction, batch_size=4):
    return np.stack([model.translate(v, direction=direction, batch_size=batch_size) for v in videos])


def score(generator, predictions, test, motion=True):
    """The dataset's metrics of `predictions` against the paired ground truth of `test`.

    With `motion` (needs OpenCV) the motion-aware temporal metrics are added
    (`keras_v2v.evaluation.motion`): flow on the translated input, tOF against the truth.
    """
    from keras_v2v.data import street

    if generator in ("volumetric_mnist", "head_phantoms"):
        values = evaluate_table2(predictions, test.b)
    elif generator == "coloured_moving_mnist":
        values = evaluate_table1(predictions, test.b)
    else:
        values = evaluate_table4(predictions, test.extras["class_maps"], street.CLASS_COLOURS)
    if motion:
        inputs, truth = (test.a, test.b) if task_metric(generator).direction == "a2b" else (test.b, test.a)
        values.update(evaluate_motion(predictions, inputs, truth))
    return values


def evaluate(model, generator, test, max_videos=None):
    """{metrics, direction, videos, headline} of `model` on the paired split `test`."""
    spec = task_metric(generator)
    if max_videos and max_videos < len(test):
        test = _take(test, max_videos)
    predictions = translate_all(model, test.a if spec.direction == "a2b" else test.b, spec.direction)
    values = score(generator, predictions, test)
    return {"metrics": values, "direction": spec.direction, "videos": len(predictions),
            "headline": {"name": spec.headline, "value": values[spec.headline],
                         "lower_is_better": spec.lower_is_better, "describe": spec.describe}}


def _take(test, n):
    """The first n pairs of a PairedVideoSet (extras too)."""
    extras = {k: v[:n] for k, v in (test.extras or {}).items()}
    return dataclasses.replace(test, a=test.a[:n], b=test.b[:n], extras=extras)


def _take_one(test, i):
    """Pair i of a PairedVideoSet, as a set of one."""
    extras = {k: v[i:i + 1] for k, v in (test.extras or {}).items()}
    return dataclasses.replace(test, a=test.a[i:i + 1], b=test.b[i:i + 1], extras=extras)


def machine_description():
    """Where a number was measured: CPU model, cores, Keras version and backend."""
    import keras

    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Keras {keras.__version__} on {keras.backend.backend()}"

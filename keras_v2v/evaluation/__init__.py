"""The paper's metrics (Tables 1, 2 and 4, temporal consistency) and how models are scored.

Pure numpy: importing this package loads no Keras backend, so metrics run on
saved outputs anywhere. One module per paper table; `arrays` holds the
conventions every metric shares (shapes, units, reduction) and `scoring`
turns a model and a held-out split into the numbers a model card reports.
"""

from keras_v2v.evaluation.arrays import DEFAULT_THRESHOLD, as_unit_float, summary
from keras_v2v.evaluation.baselines import class_prior, class_prior_videos, copy_input, frozen_first_frame
from keras_v2v.evaluation.motion import (
    evaluate_motion,
    motion_correlation,
    motion_ratio,
    tof,
    unwarped_error,
    warping_error,
)
from keras_v2v.evaluation.paper import PAPER_TABLE1, PAPER_TABLE2, PAPER_TABLE4, PAPER_TABLE4_GARBLED
from keras_v2v.evaluation.scoring import (
    TASK_METRICS,
    TaskMetric,
    evaluate,
    machine_description,
    score,
    task_metric,
    translate_all,
)
from keras_v2v.evaluation.table1 import (
    colour_drift,
    colour_std_across_clip,
    colour_std_within_frame,
    digit_intensity_mean,
    digit_masks,
    evaluate_table1,
    shape_l2,
)
from keras_v2v.evaluation.table2 import evaluate_table2, l2_norm, l2_to_ground_truth, mse
from keras_v2v.evaluation.table4 import (
    class_accuracy,
    class_transition_matrix,
    evaluate_table4,
    majority_filter,
    pixel_accuracy,
    rgb_to_class_ids,
    transition_matrix_l2,
)
from keras_v2v.evaluation.temporal import relative_flicker, temporal_flicker

#: Per table: its evaluator, the evaluator keys that are the paper's columns,
#: and the paper's numbers (method -> {column: value}).
TABLE_METRICS = {
    "table1": {
        "evaluate": evaluate_table1,
        "columns": ["shape_l2", "intensity_mean", "colour_sigma"],
        "metrics": [shape_l2, digit_intensity_mean, colour_std_within_frame],
        "paper": PAPER_TABLE1,
    },
    "table2": {
        "evaluate": evaluate_table2,
        "columns": ["L", "sigma"],
        "metrics": [l2_to_ground_truth, summary],
        "paper": PAPER_TABLE2,
    },
    "table4": {
        "evaluate": evaluate_table4,
        "columns": ["pixel_accuracy"],
        "metrics": [pixel_accuracy, transition_matrix_l2],
        "paper": PAPER_TABLE4,
    },
}

__all__ = [
    "class_prior",
    "class_prior_videos",
    "copy_input",
    "evaluate_motion",
    "frozen_first_frame",
    "motion_correlation",
    "motion_ratio",
    "tof",
    "unwarped_error",
    "warping_error",
    "PAPER_TABLE1",
    "PAPER_TABLE2",
    "PAPER_TABLE4",
    "PAPER_TABLE4_GARBLED",
    "TABLE_METRICS",
    "DEFAULT_THRESHOLD",
    "as_unit_float",
    "class_accuracy",
    "class_transition_matrix",
    "colour_drift",
    "colour_std_across_clip",
    "colour_std_within_frame",
    "digit_intensity_mean",
    "digit_masks",
    "evaluate_table1",
    "evaluate_table2",
    "evaluate_table4",
    "l2_norm",
    "l2_to_ground_truth",
    "majority_filter",
    "mse",
    "pixel_accuracy",
    "relative_flicker",
    "rgb_to_class_ids",
    "shape_l2",
    "summary",
    "temporal_flicker",
    "transition_matrix_l2",
    "TASK_METRICS",
    "TaskMetric",
    "evaluate",
    "machine_description",
    "score",
    "task_metric",
    "translate_all",
]

"""The temporal-consistency figure of `keras-v2v reproduce`: frame-to-frame change over time.

For every held-out clip, the mean absolute change between consecutive frames
(slices for volumes) of the input, each method's output and the ground truth,
averaged over clips, against the frame index. A steadier translation follows
the ground truth's curve; flicker shows as a curve above it.
"""

import textwrap

import numpy as np


def frame_change_curves(videos):
    """(N, T, ...) uint8 or [0, 1] float clips -> (T-1,) mean |v_t - v_{t-1}| in [0, 1] units."""
    v = np.asarray(videos)
    v = v.astype(np.float32) / 255.0 if v.dtype == np.uint8 else v.astype(np.float32)
    if v.ndim < 3 or v.shape[1] < 2:
        raise ValueError(f"expected clips (N, T, ...) with T >= 2; got shape {v.shape}")
    change = np.abs(np.diff(v, axis=1))
    return change.mean(axis=tuple(i for i in range(change.ndim) if i != 1)).astype(np.float64)


def curves_for(source, predictions, truth):
    """{label: curve} for the input, each method and the ground truth (the figure's data)."""
    curves = {"input": frame_change_curves(source)}
    curves.update({method: frame_change_curves(video) for method, video in predictions.items()})
    curves["ground truth"] = frame_change_curves(truth)
    return curves


def write_figure(path, curves, title, axis_name="frame"):
    """Writes the curves as a PNG with matplotlib; returns False (and writes nothing) without it."""
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display on servers and CI
        from matplotlib import pyplot
    except ImportError:
        return False
    from keras_v2v.utils.files import atomic_path

    figure, axes = pyplot.subplots(figsize=(7, 3.6), dpi=120)
    styles = {"input": dict(color="0.55", linestyle="--"), "ground truth": dict(color="black", linestyle=":")}
    for label, curve in curves.items():
        steps = np.arange(1, len(curve) + 1)
        axes.plot(steps, curve, label=f"{label} (mean {np.mean(curve):.4f})", linewidth=1.8,
                  **styles.get(label, {}))
    axes.set_xlabel(f"{axis_name} t (change from t-1 to t)")
    axes.set_ylabel("mean |x_t - x_{t-1}| (0-1 scale)")
    axes.set_title(textwrap.fill(title, 80), fontsize=9)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png")
    pyplot.close(figure)
    return True

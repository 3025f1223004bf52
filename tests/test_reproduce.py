import json

import keras
import numpy as np
import pytest

from keras_v2v import cli, data
from keras_v2v.training import pipeline, reproduce
from keras_v2v.training.resumable import ChunkStream, read_progress, train_resumable

from helpers import all_weights, tiny_2d


def test_two_dimensional_methods_match_the_3d_parameter_count():
    counts = {}
    for method in ("3d", "2d-random"):
        recipe = reproduce.recipe_for("table2", "quick", method).replace(dataset={"n": 4})
        counts[method] = pipeline.build_model(recipe, pipeline.load_data(recipe)).generator_a2b.count_params()
    assert abs(counts["2d-random"] - counts["3d"]) / counts["3d"] < 0.05


def test_method_batches_follow_figure_4():
    shapes = {}
    for method in reproduce.METHODS:
        recipe = reproduce.recipe_for("table2", "smoke", method)
        shapes[method] = pipeline.batches(recipe, pipeline.load_data(recipe))[0][0].shape
    assert shapes["3d"] == (1, 8, 16, 16, 1)
    assert shapes["2d-random"] == shapes["2d-sequential"] == (8, 16, 16, 1)


def test_training_resumes_exactly_after_an_interruption(tmp_path):
    videos = np.random.default_rng(0).integers(0, 256, (4, 6, 16, 16, 1), dtype=np.uint8)

    def batches():
        return data.UnpairedVideoDataset(videos, videos[::-1], mode="sequential", batch_size=2,
                                         steps_per_epoch=2, seed=3)

    def build():
        keras.utils.set_random_seed(7)
        model = tiny_2d()
        # SGD: Adam turns float noise in the (truly zero) gradients of biases
        # before instance norm into +-lr steps, hiding what this test checks.
        model.compile(generator_optimizer=keras.optimizers.SGD(0.05, momentum=0.5),
                      discriminator_optimizer=keras.optimizers.SGD(0.05, momentum=0.5),
                      pool_size=2, seed=5)
        return model

    straight, _ = train_resumable(build, batches(), 4, str(tmp_path / "a"), steps_per_chunk=2, verbose=0)
    train_resumable(build, batches(), 2, str(tmp_path / "b"), steps_per_chunk=2, verbose=0)  # "interrupted"
    resumed, progress = train_resumable(build, batches(), 4, str(tmp_path / "b"), steps_per_chunk=2, verbose=0)
    assert progress["steps_done"] == 4 and len(progress["history"]["g_loss"]) == 2
    for x, y in zip(all_weights(straight), all_weights(resumed)):
        np.testing.assert_allclose(x, y, atol=1e-5)
    # A finished run is not trained again.
    train_resumable(build, batches(), 4, str(tmp_path / "b"), steps_per_chunk=2, verbose=0)
    assert read_progress(str(tmp_path / "b"))["steps_done"] == 4


def test_chunk_size_must_match_the_dataset(tmp_path):
    videos = np.zeros((2, 4, 16, 16, 1), np.uint8)
    batches = data.UnpairedVideoDataset(videos, videos, steps_per_epoch=3)
    with pytest.raises(ValueError, match="steps_per_epoch=2"):
        train_resumable(tiny_2d, batches, 4, str(tmp_path), steps_per_chunk=2)


def test_reproduce_smoke_writes_report_json_and_samples(tmp_path, capsys):
    out = tmp_path / "results"
    status = cli.main(["reproduce", "table2", "--budget", "smoke", "--methods", "3d,2d-const",
                       "--runs-dir", str(tmp_path / "runs"), "--out-dir", str(out)])
    assert status == 0
    record = json.loads((out / "table2.json").read_text())
    assert set(record["results"]) == {"3d", "2d-const", "copy input", "frozen truth frame"}
    for result in record["results"].values():
        assert np.isfinite(result["metrics"]["L"])
        assert {"warping_error", "unwarped_error", "tof", "motion_corr", "motion_ratio"} <= set(result["metrics"])
    # A still image is "steady" and follows none of the input's motion; the report says both.
    frozen = record["results"]["frozen truth frame"]["metrics"]
    assert frozen["unwarped_error"] == 0 and frozen["motion_ratio"] == 0
    report = (out / "table2.md").read_text()
    assert "| 3d |" in report and "Paper (as printed)" in report and "27.210" in report
    strip = data.video_io.read_image(str(out / "table2_samples.png"))
    assert strip.shape[0] == 4 * (16 * 4 + 2)  # input, 3d, 2d-const, ground truth; 16px shown x4
    # The temporal figure's data: one curve per row of the strip, one value per pair of slices.
    curves = record["frame_change_curves"]
    assert list(curves) == ["input", "3d", "2d-const", "ground truth"]
    assert all(len(c) == 8 - 1 and min(c) >= 0 for c in curves.values())
    figure = data.video_io.read_image(str(out / "table2_temporal.png"))
    assert figure.ndim == 3 and figure.shape[1] > 400


def test_frame_change_curves_average_consecutive_differences_over_clips():
    from keras_v2v.training import figures

    clips = np.zeros((2, 4, 2, 2, 1), np.uint8)
    clips[0, 1:] = 255  # first clip: one jump of the whole frame between frames 0 and 1
    clips[1, 3:] = 51  # second clip: a jump of 0.2 between frames 2 and 3
    np.testing.assert_allclose(figures.frame_change_curves(clips), [0.5, 0.0, 0.1])
    with pytest.raises(ValueError, match="T >= 2"):
        figures.frame_change_curves(clips[:, :1])


def test_evaluate_scores_a_preset(tmp_path, capsys):
    recipe = reproduce.recipe_for("table2", "smoke", "3d")
    model = pipeline.build_model(recipe, pipeline.load_data(recipe))
    model.save_pretrained(tmp_path / "preset")
    out = tmp_path / "scores.json"
    assert cli.main(["evaluate", "--model", str(tmp_path / "preset"), "--dataset", "vmnist",
                     "--budget", "smoke", "--out", str(out)]) == 0
    assert "L" in json.loads(out.read_text())["metrics"]
    assert cli.main(["evaluate", "--model", str(tmp_path / "preset"), "--dataset", "nope"]) == 2


def test_ablate_trains_each_variant_once_and_writes_the_table(tmp_path, capsys):
    from keras_v2v.training import ablations

    args = ["ablate", "table2", "--budget", "smoke", "--variants", "3D base;lr 1e-4",
            "--runs-dir", str(tmp_path / "runs"), "--out-dir", str(tmp_path / "out")]
    assert cli.main(args) == 0
    report = (tmp_path / "out" / "ablations_table2_smoke.md").read_text()
    assert "| 3D base | the budget's 3D recipe |" in report and "| lr 1e-4 | the authors' learning rate |" in report
    lr = ablations.variant_recipe("table2", "smoke", "lr 1e-4")
    assert lr.training["learning_rate"] == 1e-4 and lr.method == "3d"
    # A second run reads the finished variants back instead of training them again.
    marker = tmp_path / "runs" / "table2-smoke" / "3d-base" / "metrics.json"
    before = marker.stat().st_mtime_ns
    assert cli.main(args) == 0 and marker.stat().st_mtime_ns == before


def test_the_ablation_report_states_the_measured_parameter_ratio(tmp_path):
    from keras_v2v.training import ablations

    def row(variant, method, params):
        return {"variant": variant, "method": method, "what": "?", "steps": 2, "train_minutes": 0.1,
                "generator_parameters": params, "metrics": {"shape_l2": 1.0}}

    rows = [row("3D base", "3d", 7097), row("2D random", "2d-random", 7100), row("width 16", "3d", 371265)]
    text = open(ablations.write_report("table1", "smoke", rows, str(tmp_path))).read()
    assert "| width 16 | width (generator and discriminator 16 filters wide) | 371,265 (52.3x the 3D base) |" in text
    assert "4x" not in text and "7,100 (" not in text


def test_the_chunk_stream_draws_chunk_c_with_epoch_c_plus_1_as_keras_epochs_did():
    # Chunk c of a run has always drawn the sampler's epoch c + 1 (Keras' on_epoch_end before
    # training and after each epoch); the endless stream that replaced them keeps that.
    videos = np.random.default_rng(0).integers(0, 256, (4, 6, 16, 16, 1), dtype=np.uint8)
    sampler = data.UnpairedVideoDataset(videos, videos[::-1], mode="sequential", batch_size=2,
                                        steps_per_epoch=2, seed=3)
    stream = ChunkStream(sampler, first_chunk=3)
    assert stream.num_batches is None
    reference = data.UnpairedVideoDataset(videos, videos[::-1], mode="sequential", batch_size=2,
                                          steps_per_epoch=2, seed=3)
    for item, (epoch, index) in enumerate([(4, 0), (4, 1), (5, 0), (5, 1), (6, 0)]):
        reference.epoch = epoch
        for got, want in zip(stream[item], reference[index]):
            np.testing.assert_array_equal(got, want)

    class Plain(keras.utils.PyDataset):  # no `epoch`: told when a chunk ends instead
        ends = 0

        def __len__(self):
            return 2

        def __getitem__(self, index):
            return np.full((1, 1), self.ends * 10 + index, np.float32)

        def on_epoch_end(self):
            self.ends += 1

    plain = ChunkStream(Plain(), first_chunk=0)
    assert [float(plain[i][0, 0]) for i in range(5)] == [0, 1, 10, 11, 20]

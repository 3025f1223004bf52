"""[distribution] threads_per_op / ops_at_once: checked in recipes, applied before the backend's
first operation, and a process that cannot change them any more is warned, not stopped."""

import importlib.util

import pytest

from keras_v2v.training import recipes, threads


def _recipe(tmp_path, distribution):
    path = tmp_path / "recipe.toml"
    path.write_text('name = "t"\ntask = "t"\nmethod = "3d"\n[dataset]\ngenerator = "volumetric_mnist"\n'
                    f"[distribution]\n{distribution}\n")
    return recipes.load_recipe(path)


def test_recipes_check_the_thread_counts_and_save_only_what_was_chosen(tmp_path):
    recipe = _recipe(tmp_path, "threads_per_op = 1\nops_at_once = 2")
    assert recipe.distribution == dict(devices=1, threads_per_op=1, ops_at_once=2)
    saved = recipe.to_toml()
    assert "threads_per_op = 1" in saved and "ops_at_once = 2" in saved and "devices" not in saved
    assert "[distribution]" not in _recipe(tmp_path, "threads_per_op = 0").to_toml()
    with pytest.raises(recipes.RecipeError, match=r"\[distribution\] ops_at_once must be a whole number >= 0, "
                                                  r"found -1"):
        _recipe(tmp_path, "ops_at_once = -1")


def test_zero_leaves_the_backend_alone():
    assert threads.configure(0, 0, backend="tensorflow") is None


def test_jax_is_warned_where_its_threads_are_set():
    with pytest.warns(UserWarning, match="not applied on jax: XLA takes its CPU threads from XLA_FLAGS"):
        assert threads.configure(1, 2, backend="jax") is None


@pytest.mark.skipif(importlib.util.find_spec("tensorflow") is None, reason="needs tensorflow")
def test_tensorflow_after_its_first_operation_keeps_its_threads_and_says_so():
    import tensorflow as tf

    tf.constant(1.0) + 1.0  # this process's runtime has started
    wanted = tf.config.threading.get_intra_op_parallelism_threads() + 1
    with pytest.warns(UserWarning, match=rf"threads_per_op = {wanted} not applied: tensorflow has already run "
                                         "work in this process"):
        line = threads.configure(wanted, 0, backend="tensorflow")
    assert tf.config.threading.get_intra_op_parallelism_threads() != wanted
    assert line.endswith("operations at once (tensorflow)")


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="needs torch")
def test_torch_takes_threads_per_op_at_any_time():
    import torch

    before = torch.get_num_threads()
    try:
        line = threads.configure(1, 0, backend="torch")
        assert torch.get_num_threads() == 1
        assert line.startswith("threads: 1 per operation, ") and line.endswith("(torch)")
    finally:
        torch.set_num_threads(before)

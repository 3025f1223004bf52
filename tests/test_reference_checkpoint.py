"""Reference PyTorch CycleGAN checkpoints: parity with PyTorch, layout detection, refusals, export, inflation."""

import sys

import keras
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import keras_v2v as v2v  # noqa: E402
from keras_v2v.models import reference_checkpoint as rc  # noqa: E402

from reference_torch import ResnetGenerator, random_reference, run_reference  # noqa: E402

# Parity on every backend: CI reruns these on JAX and PyTorch (tests/test_backends.py).
pytestmark = pytest.mark.multibackend

CONFIGS = [
    dict(n_blocks=6, norm="instance"),
    dict(n_blocks=9, norm="instance"),
    dict(n_blocks=6, norm="batch"),
    dict(n_blocks=9, norm="batch"),
    dict(n_blocks=6, norm="instance", affine=True),
]


def _save(net, path, prefix=""):
    torch.save({prefix + k: v for k, v in net.state_dict().items()}, str(path))
    return str(path)


def _keras(generator, frames):
    return keras.ops.convert_to_numpy(generator(frames, training=False))


def _edge_padded_reference(net, frames):
    """The reference on frames edge-padded to multiples of 4 (as keras-v2v pads them), cropped back."""
    height, width = frames.shape[1:3]
    extra = [(-height) % 4, (-width) % 4]
    pads = [(0, 0)] + [(e // 2, e - e // 2) for e in extra] + [(0, 0)]
    out = run_reference(net, np.pad(frames, pads, mode="edge"))
    return out[:, pads[1][0]:pads[1][0] + height, pads[2][0]:pads[2][0] + width]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c['n_blocks']}blocks-{c['norm']}"
                         + ("-affine" if c.get("affine") else ""))
def test_converted_generators_compute_what_pytorch_computes(tmp_path, rng, config):
    net_a = random_reference(seed=1, input_nc=3, output_nc=1, ngf=4, **config)
    net_b = random_reference(seed=2, input_nc=1, output_nc=3, ngf=4, **config)
    model = v2v.from_reference_checkpoint(_save(net_a, tmp_path / "latest_net_G_A.pth"),
                                          _save(net_b, tmp_path / "latest_net_G_B.pth"), input_shape=(32, 32))
    assert model.rank == 2 and model.channels_a == 3 and model.channels_b == 1 and not model.discriminators
    options = rc.generator_options(model.generator_a2b)
    assert (options["num_blocks"], options["norm"], options["filters"]) == (config["n_blocks"], config["norm"], 4)
    # Sides that are multiples of 4: the reference's own output, unchanged. Other sides: the
    # reference's output on the edge-padded frame, cropped back (what keras-v2v does with them).
    for size in ((20, 28), (27, 18)):
        frames = rng.uniform(-1, 1, (2,) + size + (3,)).astype("float32")
        expected = (run_reference(net_a, frames) if size[0] % 4 == 0 == size[1] % 4
                    else _edge_padded_reference(net_a, frames))
        found = _keras(model.generator_a2b, frames)
        assert found.shape == expected.shape == (2,) + size + (1,)
        assert np.mean(np.abs(expected) < 0.9) > 0.5, "outputs saturated: the comparison would mean little"
        diff = float(np.abs(found - expected).max())
        print(f"parity {config} {size} a2b: max abs diff {diff:.2e}")
        assert diff <= 1e-4
        back = _keras(model.generator_b2a, found)
        expected_back = (run_reference(net_b, found) if size[0] % 4 == 0 == size[1] % 4
                         else _edge_padded_reference(net_b, found))
        assert float(np.abs(back - expected_back).max()) <= 1e-4


def test_keras_v2v_own_transpose_generator_is_not_the_reference(rng):
    """Why a dedicated builder: resnet_generator(upsampling="transpose") pads and aligns differently."""
    net = random_reference(seed=3, ngf=4, n_blocks=0)
    converted = rc.generator_from_state_dict(net.state_dict())
    ours = v2v.resnet_generator(rank=2, channels=3, filters=4, num_blocks=0, upsampling="transpose")
    for layer in converted.layers:  # the same kernels and biases; our affine norms start as the identity
        if layer.weights:
            ours.get_layer(layer.name).set_weights(layer.get_weights())
    frames = rng.uniform(-1, 1, (1, 16, 16, 3)).astype("float32")
    expected = run_reference(net, frames)
    assert float(np.abs(_keras(converted, frames) - expected).max()) <= 1e-4
    assert float(np.abs(_keras(ours, frames) - expected).max()) > 1e-2


def test_dataparallel_prefix_dropout_and_old_instance_norm_statistics(tmp_path, rng):
    net = random_reference(seed=4, ngf=4, n_blocks=2, dropout=True)
    state = {f"module.{k}": v for k, v in net.state_dict().items()}
    # PyTorch < 0.4 saved running statistics for InstanceNorm2d; the reference ignores them.
    state["module.model.2.running_mean"] = torch.ones(4)
    state["module.model.2.running_var"] = torch.ones(4)
    torch.save(state, str(tmp_path / "g.pth"))
    generator = rc.generator_from_state_dict(str(tmp_path / "g.pth"))
    assert rc.generator_options(generator)["dropout"] == 0.5
    frames = rng.uniform(-1, 1, (1, 24, 16, 3)).astype("float32")
    assert float(np.abs(_keras(generator, frames) - run_reference(net, frames)).max()) <= 1e-4


@pytest.mark.parametrize("norm", ["instance", "batch"])
def test_reference_state_dict_round_trips_into_pytorch(norm):
    net = random_reference(seed=5, ngf=4, n_blocks=3, norm=norm, affine=True)
    generator = rc.generator_from_state_dict(net.state_dict())
    exported = rc.reference_state_dict(generator)
    original = {k: v.numpy() for k, v in net.state_dict().items()}
    assert sorted(exported) == sorted(original)
    for key, value in original.items():
        np.testing.assert_array_equal(exported[key], value, err_msg=key)
    fresh = ResnetGenerator(ngf=4, n_blocks=3, norm=norm, affine=True)
    fresh.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in exported.items()}, strict=True)


def test_refusals_name_what_was_found(tmp_path):
    unet = {"model.model.0.weight": torch.zeros(8, 3, 4, 4), "model.model.1.model.1.weight": torch.zeros(16, 8, 4, 4)}
    with pytest.raises(ValueError, match=r"U-Net generator.*found 2 tensors.*model\.model\.0\.weight"):
        v2v.from_reference_checkpoint(_save_dict(unet, tmp_path / "unet.pth"))
    critic = {"model.0.weight": torch.zeros(64, 3, 4, 4), "model.0.bias": torch.zeros(64)}
    with pytest.raises(ValueError, match="PatchGAN discriminator"):
        v2v.from_reference_checkpoint(_save_dict(critic, tmp_path / "latest_net_D_A.pth"))
    net = random_reference(ngf=4, n_blocks=2)
    torch.save(net, str(tmp_path / "pickled.pth"))  # a whole pickled module, not a state dict
    with pytest.raises(ValueError, match=r"pickled.pth: torch.load\(weights_only=True\) refused it"):
        v2v.from_reference_checkpoint(str(tmp_path / "pickled.pth"))
    state = net.state_dict()
    state.pop("model.11.conv_block.5.weight")
    with pytest.raises(ValueError, match=r"missing model\.11\.conv_block\.5\.weight"):
        v2v.from_reference_checkpoint(_save_dict(state, tmp_path / "cut.pth"))
    state = dict(net.state_dict(), **{"model.4.weight": torch.zeros(8, 4, 5, 5)})
    with pytest.raises(ValueError, match=r"model\.4\.weight has shape \(8, 4, 5, 5\).*needs \(3, 3, 4, 8\)"):
        v2v.from_reference_checkpoint(_save_dict(state, tmp_path / "bad.pth"))
    with pytest.raises(FileNotFoundError, match="no checkpoint file"):
        v2v.from_reference_checkpoint(str(tmp_path / "absent.pth"))


def test_missing_torch_names_the_extra(tmp_path, monkeypatch):
    path = _save(random_reference(ngf=4, n_blocks=1), tmp_path / "g.pth")
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now fails
    with pytest.raises(ImportError, match=r"pip install keras-v2v\[torch\]"):
        v2v.from_reference_checkpoint(path)


def test_one_direction_warns_and_mirrors_the_other(tmp_path):
    path = _save(random_reference(ngf=4, n_blocks=1, input_nc=1, output_nc=3), tmp_path / "g.pth")
    with pytest.warns(rc.UntrainedGeneratorWarning, match="freshly initialised"):
        model = v2v.from_reference_checkpoint(path, discriminators="fresh", input_shape=(16, 24),
                                              discriminator_layers=2)
    assert model.channels_a == 1 and model.channels_b == 3 and model.sample_shape == (16, 24, 1)
    assert rc.generator_options(model.generator_b2a)["channels"] == 3 and len(model.discriminators) == 2
    with pytest.raises(ValueError, match="needs frames larger than"):
        v2v.from_reference_checkpoint(path, discriminators="fresh", input_shape=(16, 24))


@pytest.mark.parametrize("norm", ["instance", "batch"])
def test_inflated_converted_model_equals_it_frame_by_frame(tmp_path, rng, norm):
    net = random_reference(seed=6, ngf=4, n_blocks=2, norm=norm)
    model = v2v.from_reference_checkpoint(_save(net, tmp_path / "g.pth"), _save(net, tmp_path / "h.pth"),
                                          input_shape=(16, 16), discriminators="fresh", discriminator_layers=2)
    video = v2v.inflate(model, clip_length=4)
    assert video.rank == 3 and video.sample_shape == (4, 16, 16, 3)
    clip = rng.uniform(-1, 1, (1, 5, 20, 12, 3)).astype("float32")
    framewise = run_reference(net, clip[0])
    found = _keras(video.generator_a2b, clip)[0]
    assert float(np.abs(found - framewise).max()) <= 1e-4
    # The body sees three frames: a clip whose frames differ gives a different output once trained taps move.
    kernel = keras.ops.convert_to_numpy(video.generator_a2b.get_layer("up0_conv").kernel)
    assert kernel.shape[0] == 3 and not kernel[0].any() and kernel[1].any()


def _save_dict(state, path):
    torch.save(state, str(path))
    return str(path)


def test_batch_norm_checkpoint_fine_tunes_on_batch_statistics(rng):
    """Fit runs the converted BatchNorm2d in training mode (PyTorch's train()): its running statistics move."""
    from helpers import PairBatches, random_pairs

    net = random_reference(seed=7, ngf=2, n_blocks=1, norm="batch")
    model = v2v.from_reference_checkpoint(net.state_dict(), net.state_dict(), input_shape=(16, 16),
                                          discriminators="fresh", discriminator_layers=2)
    norm = model.generator_a2b.get_layer("stem_norm")
    before = keras.ops.convert_to_numpy(norm.moving_mean).copy()
    np.testing.assert_allclose(before, net.state_dict()["model.2.running_mean"].numpy())
    model.compile(seed=0)
    model.fit(PairBatches(*random_pairs(rng, 2, (16, 16, 3)), batch_size=2), epochs=1, verbose=0)
    assert not np.allclose(keras.ops.convert_to_numpy(norm.moving_mean), before)

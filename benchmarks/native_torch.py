"""A native PyTorch CycleGAN with keras-v2v's architecture and training step: the benchmarks' reference.

Written after the reference implementation (ResnetGenerator, NLayerDiscriminator
and `optimize_parameters` of Zhu et al.'s pytorch-CycleGAN-and-pix2pix), set to
keras-v2v's options so that both compute the same model: channels-first,
instance norm with affine terms, reflection padding, "resize" upsampling
(nearest x2, reflection pad, conv), PatchGAN with 3x4x4 kernels in 3D, LSGAN,
L1 cycle x10 and identity x5, both gradients at the same weights, then one Adam
step per network. Module names equal the Keras layer names, so weights map
one to one (`copy_keras_weights`).
"""

from collections import OrderedDict

import torch
from torch import nn

LAMBDA_CYCLE = 10.0
LAMBDA_IDENTITY = 0.5  # relative to LAMBDA_CYCLE, as in keras_v2v and CycleGAN: x5
LEARNING_RATE, BETA_1 = 2e-4, 0.5
KERAS_ADAM_EPSILON = 1e-7


def _modules(rank):
    if rank == 2:
        return nn.Conv2d, nn.InstanceNorm2d, nn.ReflectionPad2d
    return nn.Conv3d, nn.InstanceNorm3d, nn.ReflectionPad3d


def _per_axis(value, rank):
    return (value,) * rank if isinstance(value, int) else tuple(value)


def _reflect_pad(Pad, kernel):
    # ReflectionPadNd takes (last axis before, after, ..., first axis before, after).
    return Pad(tuple(k // 2 for k in reversed(kernel) for _ in range(2)))


def build_generator(rank, channels, filters, num_blocks, stem=7, body=3, temporal_stride=True):
    """The keras_v2v ResNet generator ('resize' upsampling), channels-first."""
    Conv, Norm, Pad = _modules(rank)
    stem, body = _per_axis(stem, rank), _per_axis(body, rank)
    strides = (2,) * rank if rank == 2 or temporal_stride else (1, 2, 2)

    def norm(width):
        return Norm(width, eps=1e-5, affine=True)

    class ResidualBlock(nn.Module):
        def __init__(self, width):
            super().__init__()
            self.pad1, self.conv1, self.norm1 = _reflect_pad(Pad, body), Conv(width, width, body), norm(width)
            self.pad2, self.conv2, self.norm2 = _reflect_pad(Pad, body), Conv(width, width, body), norm(width)

        def forward(self, x):
            y = self.norm1(self.conv1(self.pad1(x))).relu()
            return x + self.norm2(self.conv2(self.pad2(y)))

    layers = OrderedDict()
    layers["stem_pad"] = _reflect_pad(Pad, stem)
    layers["stem_conv"] = Conv(channels, filters, stem)
    layers["stem_norm"] = norm(filters)
    layers["stem_relu"] = nn.ReLU()
    width = filters
    for i in range(2):
        layers[f"down{i}_pad"] = _reflect_pad(Pad, body)
        layers[f"down{i}_conv"] = Conv(width, width * 2, body, stride=strides)
        width *= 2
        layers[f"down{i}_norm"] = norm(width)
        layers[f"down{i}_relu"] = nn.ReLU()
    for i in range(num_blocks):
        layers[f"block{i}"] = ResidualBlock(width)
    for i in range(2):
        layers[f"up{i}_resize"] = nn.Upsample(scale_factor=strides, mode="nearest")
        layers[f"up{i}_pad"] = _reflect_pad(Pad, body)
        layers[f"up{i}_conv"] = Conv(width, width // 2, body)
        width //= 2
        layers[f"up{i}_norm"] = norm(width)
        layers[f"up{i}_relu"] = nn.ReLU()
    layers["head_pad"] = _reflect_pad(Pad, stem)
    layers["head_conv"] = Conv(width, channels, stem)
    layers["head_tanh"] = nn.Tanh()
    return nn.Sequential(layers)


def build_discriminator(rank, channels, filters, num_layers, temporal_kernel=3, temporal_stride=True):
    """The keras_v2v PatchGAN: zero padding 1; 4x4 kernels (2D), temporal_kernel x 4 x 4 (3D)."""
    Conv, Norm, _ = _modules(rank)
    kernel = (4, 4) if rank == 2 else (temporal_kernel, 4, 4)
    down = 2 if rank == 2 or temporal_stride else (1, 2, 2)
    layers = OrderedDict()
    width_in, width = channels, filters
    for i in range(num_layers + 1):
        layers[f"layer{i}_conv"] = Conv(width_in, width, kernel, stride=down if i < num_layers else 1, padding=1)
        if i > 0:
            layers[f"layer{i}_norm"] = Norm(width, eps=1e-5, affine=True)
        layers[f"layer{i}_lrelu"] = nn.LeakyReLU(0.2)
        width_in, width = width, min(width * 2, filters * 8)
    layers["logits"] = Conv(width_in, 1, kernel, padding=1)
    return nn.Sequential(layers)


def build_cyclegan(config, seed=0):
    """The four networks for a benchmark config (see train_step.CONFIGS)."""
    torch.manual_seed(seed)
    rank, channels = config["rank"], config["channels"]
    stride = config.get("temporal_stride", True)
    gen = dict(rank=rank, channels=channels, filters=config["filters"], num_blocks=config["blocks"],
               stem=config.get("stem", 7), temporal_stride=stride)
    disc = dict(rank=rank, channels=channels, filters=config["disc_filters"], num_layers=config["disc_layers"],
                temporal_stride=stride)
    return {
        "generator_a2b": build_generator(**gen),
        "generator_b2a": build_generator(**gen),
        "discriminator_a": build_discriminator(**disc),
        "discriminator_b": build_discriminator(**disc),
    }


def param_count(module):
    return sum(p.numel() for p in module.parameters())


def generator_loss(nets, a, b):
    """LSGAN adversarial + 10 x L1 cycle + 5 x L1 identity (as keras_v2v)."""
    g_ab, g_ba = nets["generator_a2b"], nets["generator_b2a"]
    d_a, d_b = nets["discriminator_a"], nets["discriminator_b"]
    fake_b, fake_a = g_ab(a), g_ba(b)
    cycle = (g_ba(fake_b) - a).abs().mean() + (g_ab(fake_a) - b).abs().mean()
    adv = (d_b(fake_b) - 1).square().mean() + (d_a(fake_a) - 1).square().mean()
    identity = (g_ab(b) - b).abs().mean() + (g_ba(a) - a).abs().mean()
    total = adv + LAMBDA_CYCLE * cycle + LAMBDA_CYCLE * LAMBDA_IDENTITY * identity
    return total, fake_a, fake_b


def discriminator_loss(nets, a, b, fake_a, fake_b):
    """Half the LSGAN real + fake terms per discriminator, on detached fakes."""
    d_a, d_b = nets["discriminator_a"], nets["discriminator_b"]
    fake_a, fake_b = fake_a.detach(), fake_b.detach()
    loss_a = 0.5 * ((d_a(a) - 1).square().mean() + d_a(fake_a).square().mean())
    loss_b = 0.5 * ((d_b(b) - 1).square().mean() + d_b(fake_b).square().mean())
    return loss_a + loss_b


def parameters(nets, prefix):
    return [p for name, net in nets.items() if name.startswith(prefix) for p in net.parameters()]


class Trainer:
    """The training step, eager or under torch.compile (each loss function compiled)."""

    def __init__(self, nets, compile=False):
        self.nets = nets
        self.g_params, self.d_params = parameters(nets, "generator"), parameters(nets, "discriminator")
        adam = {"lr": LEARNING_RATE, "betas": (BETA_1, 0.999), "eps": KERAS_ADAM_EPSILON}
        self.opt_g = torch.optim.Adam(self.g_params, **adam)
        self.opt_d = torch.optim.Adam(self.d_params, **adam)
        self.g_loss, self.d_loss = generator_loss, discriminator_loss
        if compile:
            self.g_loss, self.d_loss = torch.compile(generator_loss), torch.compile(discriminator_loss)

    def step(self, a, b):
        """Both gradients at the same weights, then both Adam steps (as keras_v2v)."""
        g_loss, fake_a, fake_b = self.g_loss(self.nets, a, b)
        g_grads = torch.autograd.grad(g_loss, self.g_params)
        d_loss = self.d_loss(self.nets, a, b, fake_a, fake_b)
        d_grads = torch.autograd.grad(d_loss, self.d_params)
        for params, grads in ((self.g_params, g_grads), (self.d_params, d_grads)):
            for p, g in zip(params, grads):
                p.grad = g
        self.opt_g.step()
        self.opt_d.step()
        return g_loss.detach(), d_loss.detach()


def to_channels_first(x, rank):
    return x.permute(0, rank + 1, *range(1, rank + 1)).contiguous()


def copy_keras_weights(keras_net, torch_net, rank):
    """Copies weights by layer name; returns [(keras variable, torch parameter)]."""
    import numpy as np

    from keras_v2v.models.layers import InstanceNormalization, ResidualBlock

    pairs = []
    modules = dict(torch_net.named_modules())

    def copy(layer, module):
        if isinstance(layer, ResidualBlock):
            for sub in ("conv1", "norm1", "conv2", "norm2"):
                copy(getattr(layer, sub), getattr(module, sub))
            return
        if isinstance(layer, InstanceNormalization):
            mapping = ((layer.gamma, module.weight), (layer.beta, module.bias))
        else:  # a convolution (also UpsampleConv, whose kernel is the 3-wide one)
            mapping = ((layer.kernel, module.weight), (layer.bias, module.bias))
        for variable, param in mapping:
            value = torch.as_tensor(np.asarray(variable.numpy()))
            if value.ndim == rank + 2:  # (*kernel, in, out) -> (out, in, *kernel)
                value = value.permute(rank + 1, rank, *range(rank))
            assert value.shape == param.shape, (variable.path, value.shape, param.shape)
            with torch.no_grad():
                param.copy_(value)
            pairs.append((variable, param))

    for layer in keras_net.layers:
        if layer.weights:
            copy(layer, modules[layer.name])
    assert len(pairs) == len(keras_net.trainable_variables) == len(list(torch_net.parameters()))
    return pairs

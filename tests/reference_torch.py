"""The reference PyTorch CycleGAN generator, written for the tests from its published description.

pytorch-CycleGAN-and-pix2pix's `ResnetGenerator` (models/networks.py): reflection pad 3 and a
7x7 conv; two 3x3 stride-2 convs with zero padding 1; residual blocks (reflection pad 1, 3x3
conv, norm, ReLU, optional Dropout(0.5), reflection pad 1, 3x3 conv, norm, plus the input);
two ConvTranspose2d(3, stride 2, padding 1, output_padding 1); reflection pad 3, 7x7 conv,
tanh. Convolutions carry biases only with instance norm; instance norm is InstanceNorm2d
(affine=False, track_running_stats=False by default); batch norm is BatchNorm2d. Everything
sits in one nn.Sequential called `model`, which gives the state dict its names.
"""

import numpy as np
import torch
from torch import nn


def _norm(kind, width, affine):
    if kind == "batch":
        return nn.BatchNorm2d(width)
    return nn.InstanceNorm2d(width, affine=affine, track_running_stats=False)


class ResnetBlock(nn.Module):
    def __init__(self, dim, norm, affine, use_bias, dropout):
        super().__init__()
        layers = [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, padding=0, bias=use_bias), _norm(norm, dim, affine),
                  nn.ReLU(True)]
        if dropout:
            layers.append(nn.Dropout(0.5))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, padding=0, bias=use_bias), _norm(norm, dim, affine)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    def __init__(self, input_nc=3, output_nc=3, ngf=64, norm="instance", affine=False, dropout=False, n_blocks=9):
        super().__init__()
        use_bias = norm == "instance"
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7, padding=0, bias=use_bias),
                  _norm(norm, ngf, affine), nn.ReLU(True)]
        for i in range(2):
            mult = 2 ** i
            layers += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1, bias=use_bias),
                       _norm(norm, ngf * mult * 2, affine), nn.ReLU(True)]
        for _ in range(n_blocks):
            layers.append(ResnetBlock(ngf * 4, norm, affine, use_bias, dropout))
        for i in range(2):
            mult = 2 ** (2 - i)
            layers += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, stride=2, padding=1, output_padding=1,
                                          bias=use_bias),
                       _norm(norm, ngf * mult // 2, affine), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7, padding=0), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


def random_reference(seed=0, **kwargs):
    """A ResnetGenerator in eval mode: PyTorch's own random kernels, random norms, biases and batch statistics."""
    torch.manual_seed(seed)
    net = ResnetGenerator(**kwargs)
    with torch.no_grad():
        for name, tensor in net.state_dict().items():
            if tensor.ndim != 1:
                continue  # kernels keep PyTorch's initialisation (outputs stay out of tanh's flat ends)
            if name.endswith("running_var"):
                tensor.copy_(torch.rand(tensor.shape) + 0.5)
            elif name.endswith("weight"):
                tensor.copy_(1.0 + 0.3 * torch.randn(tensor.shape))
            else:  # biases, running means
                tensor.copy_(0.3 * torch.randn(tensor.shape))
    return net.eval()


def run_reference(net, frames):
    """(N, H, W, C) float32 numpy in, the same layout out."""
    with torch.no_grad():
        out = net(torch.from_numpy(np.ascontiguousarray(frames.transpose(0, 3, 1, 2))))
    return out.numpy().transpose(0, 2, 3, 1)

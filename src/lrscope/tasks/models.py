"""The networks of the built-in tasks.

- :class:`MNIST1DCNN` and :class:`MNIST1DMLP`: the convolutional network and
  the multilayer perceptron of the MNIST-1D paper (Greydanus and Kobak, 2020):
  three 1-D convolutions with 25 channels (kernel 5 then 3, stride 2,
  padding 1) and ReLU, then one linear layer; the MLP has two hidden layers of
  100 units.
- :class:`LeNet`: Caffe's MNIST LeNet (conv 5x5 20, max-pool, conv 5x5 50,
  max-pool, fc 500, ReLU, fc), used by Wu, Liu et al. 2019; ``small=True`` adapts the
  kernels to the 8x8 images of scikit-learn's digits (114,760 parameters).
- :class:`CNN3`: Caffe's CIFAR-10 "quick" network (CNN3 in Smith 2017 and
  Wu, Liu et al. 2019): three 5x5 convolutions (32, 32, 64 channels) with 3x3 stride-2
  pooling (max, average, average; Caffe's ceil rounding), fc 64, fc 10.
- :class:`CifarResNet`: the CIFAR ResNets of He et al. (2016), depth
  ``6n + 2`` (20, 32, 56), 16/32/64 channels, BatchNorm, identity shortcuts
  that subsample and zero-pad the channels when the shape changes (option A).
"""

from __future__ import annotations

import itertools

import torch
from torch import nn
from torch.nn import functional as fn

__all__ = [
    "CNN3",
    "MLP",
    "MNIST1DCNN",
    "MNIST1DMLP",
    "CifarResNet",
    "LeNet",
    "count_parameters",
]


def count_parameters(model: nn.Module) -> int:
    """Number of trainable scalars of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


class MLP(nn.Module):
    """Fully connected ReLU network on flattened inputs.

    ``sizes = (in, hidden_1, ..., out)``; no activation after the last layer.
    """

    def __init__(self, sizes: tuple[int, ...]) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
            layers.append(nn.Linear(n_in, n_out))
            if i < len(sizes) - 2:
                layers.append(nn.ReLU())
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.net(x)
        return out


class MNIST1DMLP(MLP):
    """The MNIST-1D paper's MLP: 40 -> 100 -> 100 -> 10, ReLU (15,210 parameters)."""

    def __init__(self, length: int = 40, hidden: int = 100, num_classes: int = 10) -> None:
        super().__init__((length, hidden, hidden, num_classes))


class MNIST1DCNN(nn.Module):
    """The MNIST-1D paper's CNN on inputs of shape ``(1, length)`` (5,210 parameters).

    Lengths through the layers for ``length = 40``: 40 -> 19 -> 10 -> 5; the
    flattened 25 x 5 features feed one linear layer.
    """

    def __init__(self, length: int = 40, channels: int = 25, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(1, channels, 5, stride=2, padding=1)
        self.conv2 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        self.conv3 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
        out_len = length
        for kernel in (5, 3, 3):
            out_len = (out_len + 2 - kernel) // 2 + 1
        self.linear = nn.Linear(channels * out_len, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            x = x.unsqueeze(1)
        h = fn.relu(self.conv1(x))
        h = fn.relu(self.conv2(h))
        h = fn.relu(self.conv3(h))
        out: torch.Tensor = self.linear(h.flatten(1))
        return out


class LeNet(nn.Module):
    """Caffe's LeNet: conv(20) - maxpool - conv(50) - maxpool - fc 500 - ReLU - fc.

    For 28x28 inputs the kernels are 5x5 (431,080 parameters). With
    ``small=True`` (8x8 digits) they are 3x3 with padding 1, so the feature
    maps go 8 -> 4 -> 2.
    """

    def __init__(self, num_classes: int = 10, small: bool = False) -> None:
        super().__init__()
        kernel, pad, side = (3, 1, 2) if small else (5, 0, 4)
        self.conv1 = nn.Conv2d(1, 20, kernel, padding=pad)
        self.conv2 = nn.Conv2d(20, 50, kernel, padding=pad)
        self.fc1 = nn.Linear(50 * side * side, 500)
        self.fc2 = nn.Linear(500, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = fn.max_pool2d(self.conv1(x), 2)
        h = fn.max_pool2d(self.conv2(h), 2)
        h = fn.relu(self.fc1(h.flatten(1)))
        out: torch.Tensor = self.fc2(h)
        return out


class CNN3(nn.Module):
    """Caffe's ``cifar10_quick`` network on 3x32x32 inputs (145,578 parameters).

    Feature maps: 32 -> 16 -> 8 -> 4 (3x3 stride-2 pooling, ceil rounding as
    in Caffe), then 64 x 4 x 4 -> fc 64 -> fc ``num_classes`` (no
    nonlinearity between the two, as in Caffe's definition).
    """

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 5, padding=2)
        self.conv2 = nn.Conv2d(32, 32, 5, padding=2)
        self.conv3 = nn.Conv2d(32, 64, 5, padding=2)
        self.fc1 = nn.Linear(64 * 4 * 4, 64)
        self.fc2 = nn.Linear(64, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = fn.relu(fn.max_pool2d(self.conv1(x), 3, 2, ceil_mode=True))
        h = fn.avg_pool2d(fn.relu(self.conv2(h)), 3, 2, ceil_mode=True)
        h = fn.avg_pool2d(fn.relu(self.conv3(h)), 3, 2, ceil_mode=True)
        out: torch.Tensor = self.fc2(self.fc1(h.flatten(1)))
        return out


class _BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with an option-A shortcut (He et al., 2016)."""

    def __init__(self, in_ch: int, out_ch: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.stride = stride
        self.pad_ch = out_ch - in_ch

    def _shortcut(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride == 1 and self.pad_ch == 0:
            return x
        x = x[:, :, :: self.stride, :: self.stride]
        half = self.pad_ch // 2
        return fn.pad(x, (0, 0, 0, 0, half, self.pad_ch - half))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = fn.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        return fn.relu(h + self._shortcut(x))


class CifarResNet(nn.Module):
    """ResNet-``depth`` for 3x32x32 inputs, ``depth = 6n + 2``.

    ResNet-20 has 269,722 parameters, ResNet-32 464,154, ResNet-56 853,018.
    Convolutions use Kaiming-normal initialisation (fan-out), as in the paper.
    """

    def __init__(self, depth: int, num_classes: int = 10) -> None:
        super().__init__()
        if (depth - 2) % 6 != 0 or depth < 8:
            raise ValueError(f"ResNet depth must be 6n + 2 with n >= 1, got {depth}")
        n = (depth - 2) // 6
        self.conv = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        blocks: list[nn.Module] = []
        in_ch = 16
        for stage, out_ch in enumerate((16, 32, 64)):
            for i in range(n):
                stride = 2 if stage > 0 and i == 0 else 1
                blocks.append(_BasicBlock(in_ch, out_ch, stride))
                in_ch = out_ch
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(64, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = fn.relu(self.bn(self.conv(x)))
        h = self.blocks(h)
        h = fn.adaptive_avg_pool2d(h, 1).flatten(1)
        out: torch.Tensor = self.fc(h)
        return out

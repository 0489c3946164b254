"""The image data sets users pick (data=mnist|fashion_mnist|cifar10|stacked_mnist|
image_folder): the classes the configs' `_target_`s and checkpoints name, from the
modules of one concern each.

- gan_cli.data.memory: the in-memory sampler every image data set is (ImageData);
- gan_cli.data.official: MNIST, Fashion-MNIST and CIFAR-10 from their official files;
- gan_cli.data.folder: a folder of your own images;
- gan_cli.data.stacked: Stacked MNIST.
"""

from gan_cli.data.folder import ImageFolder
from gan_cli.data.memory import ImageData, to_unit_range
from gan_cli.data.official import CIFAR10, MNIST, FashionMNIST, OfficialFiles
from gan_cli.data.stacked import STACKED_BASES, StackedMNIST

__all__ = [
    "CIFAR10",
    "MNIST",
    "STACKED_BASES",
    "FashionMNIST",
    "ImageData",
    "ImageFolder",
    "OfficialFiles",
    "StackedMNIST",
    "to_unit_range",
]

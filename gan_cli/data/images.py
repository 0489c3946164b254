"""The paths of the image data sets in the configs of runs trained by earlier versions
of gan-cli (`_target_: gan_cli.data.images.MNIST`), kept so that their checkpoints still
sample and resume. conf/data/ names each class where it lives: official.py (MNIST,
Fashion-MNIST, CIFAR-10), folder.py (a folder of images), stacked.py (Stacked MNIST).
"""

from gan_cli.data.folder import ImageFolder
from gan_cli.data.official import CIFAR10, MNIST, FashionMNIST
from gan_cli.data.stacked import StackedMNIST

__all__ = ["CIFAR10", "MNIST", "FashionMNIST", "ImageFolder", "StackedMNIST"]

"""gan-data: prepare a data set ahead of training.

    gan-data pack data=image_folder data.path=DIR data.image_size=256
    gan-data pack data=image_folder data.path=DIR data.image_size=128 data.crop=pad
    gan-data pack data=image_folder data.path=DIR data.labels=labels.csv data.skip_bad=true

`pack` decodes every image of an image folder once, in parallel over the cores, into a
pack at the training resolution in data.cache_dir (default ~/.cache/gan-cli/packed), as
the first gan-train run on the folder would: pack once on a cluster's login node, and
every run, sweep job and rank opens it in about a second. It takes gan-train's
overrides (the training command's own, pasted, works: the keys other than data.* are
checked and otherwise ignored). A folder packed already, unchanged since, is not
packed again; a changed one is.
"""

from __future__ import annotations

import logging

from gan_cli.core.console import command, console
from gan_cli.core.errors import UserError

ACTIONS = ("pack",)


def pack(overrides: list[str]) -> str:
    """Pack the folder the overrides name; a line saying what is where."""
    from hydra.utils import get_class

    from gan_cli.config.compose import compose_config
    from gan_cli.config.spec import check
    from gan_cli.data import image_files, packing
    from gan_cli.data.folder import ImageFolder

    cfg = check(compose_config(overrides))
    data = cfg.data
    if get_class(data._target_) is not ImageFolder:
        raise UserError(
            f"gan-data pack packs data=image_folder; {data._target_.rsplit('.', 1)[-1]} is "
            "read from its own files as they are"
        )
    spec = image_files.Spec(data.image_size, data.channels, data.crop)
    found = packing.open_or_pack(data.path, spec, data.cache_dir, data.labels, data.skip_bad)
    n, c, s = found.images.shape[:3]
    what = f"{n} images, {c} x {s} x {s}, {found.images.nbytes / 2**30:.2f} GiB"
    how = f"packed in {found.manifest['seconds']:.1f} s" if found.packed_now else "packed already"
    return f"{data.path}: {what} ({how}) -> {found.folder}"


def main() -> None:
    """The `gan-data` command."""

    def body(argv: list[str]) -> int:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        if argv[0] not in ACTIONS:
            raise UserError(f"unknown action {argv[0]!r}; actions: {'|'.join(ACTIONS)}")
        console.print(f"gan-data: {pack(argv[1:])}", soft_wrap=True, highlight=False)
        return 0

    command("gan-data", __doc__, body)


if __name__ == "__main__":
    main()

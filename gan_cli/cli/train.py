"""gan-train: read and check the command line, then train (gan_cli.cli.run).

gan-train                                    # toy2d + mlp + wgan_gp, W&B offline
gan-train loss=vanilla data.distribution=grid25
gan-train -m loss=wgan_gp loss.gp_lambda=0.1,1,10,100

--help and a mistake on the command line are answered from the config alone, before
torch and the training stack are imported.
"""

from __future__ import annotations

import sys

from gan_cli.cli.command_line import asks_for_help, check_command_line, exit_with, help_text
from gan_cli.core.errors import UserError


def main() -> None:
    """The `gan-train` command: check the command line, then hand it to Hydra."""
    try:
        if asks_for_help(sys.argv[1:]):
            print(help_text(sys.argv[1:]))
            return
        sys.argv[1:] = check_command_line(sys.argv[1:])
    except UserError as e:
        exit_with(e)
    from gan_cli.cli import run  # the training stack, torch included: only for a run

    run.start()


if __name__ == "__main__":
    main()

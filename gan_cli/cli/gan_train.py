"""gan-train: read and check the command line, then train (gan_cli.cli.launch).

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
    args = sys.argv[1:]
    try:
        if asks_for_help(args):
            print(help_text(args))
            return
        plan = check_command_line(args)
    except UserError as e:
        exit_with(e)
    from gan_cli.cli import launch  # the training stack, torch included: only for a run

    launch.start(plan)


if __name__ == "__main__":
    main()

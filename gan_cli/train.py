"""`python -m gan_cli.train ...` and `torchrun ... -m gan_cli.train ...`: gan-train as a
module, for launchers that start Python modules (the command is gan_cli.cli.gan_train)."""

from gan_cli.cli.gan_train import main

if __name__ == "__main__":
    main()

"""Generator and discriminator architectures, built from plain keyword arguments."""

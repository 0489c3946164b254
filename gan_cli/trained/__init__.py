"""What a trained generator is used for, from its checkpoint: samples as gan-sample
writes them (sampling.py), their image metrics (scoring.py) and a generator that
travels as a torch.export program (export.py). Nothing here trains; training/ imports
none of it."""

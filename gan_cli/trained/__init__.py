"""What a trained generator is used for, from its checkpoint: samples as gan-sample
writes them (sampling.py, with the truncation trick), their metrics (scoring.py), the
truncation trick's trade-off (truncation.py), interpolation videos (video.py), each
sample's nearest training images (neighbours.py), the latent of a real image
(projection.py, its targets read by project_inputs.py) and a generator that travels as
a torch.export program (export.py). Nothing here trains; training/ imports none of it."""

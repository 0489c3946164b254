"""One training step of a GAN of more than two networks (loss=ali, loss=veegan): its
objective (gan_cli.losses.joint) says which loss trains which networks; this step
computes all losses from one forward pass, differentiates each for its own networks
only, and updates every network at once."""

from __future__ import annotations

from torch import Tensor

from gan_cli.data.base import DataSource
from gan_cli.losses.joint import CRITIC, GENERATOR, JointBatch, Phase
from gan_cli.training.step import GAN, Guard, noise


def joint_step(gan: GAN, data: DataSource, step: int, guard: Guard, precision) -> dict[str, Tensor]:
    """Generator step `step` of a GAN on pairs: D(x, F(x)) for a real batch x, D(G(z), z)
    for fresh latents z, each phase's loss backward into its networks' parameters alone
    (`backward(inputs=...)`: under DDP each wrapped network still averages its own
    gradients), then every optimizer steps; EMA and schedules as in train_step. With
    loss.n_critic = k > 1, the k - 1 updates before it train the critic's phase alone,
    each on a batch of its own."""
    nets = gan.forwards
    for i in range(gan.critic_steps(step)):
        x = data.sample()
        z = noise(gan, x)
        with precision:
            fake = nets.g(z)
            real_out = nets.d(x, gan.objective.code(nets.r(x))).float()
            fake_out = nets.d(fake, z).float()
            phases, scalars = gan.objective.phases(JointBatch(real_out, fake_out, z, fake, nets.r))
        if gan.augment is not None:  # ADA: p follows the critic's outputs on real data
            gan.augment.observe(real_out)
        if i < gan.critic_steps(step) - 1:  # a critic update alone
            phases = {k: p for k, p in phases.items() if CRITIC in p.networks}
        update(gan, phases, guard)
    for schedule in gan.schedules:
        schedule.step()
    losses = {key: phase.loss.detach() for key, phase in phases.items()}
    critic_out = {"real_out": real_out.detach(), "fake_out": fake_out.detach()}
    return {**losses, **scalars, **critic_out, "real": x, "fake": fake.detach()}


def update(gan: GAN, phases: dict[str, Phase], guard: Guard) -> None:
    """Each phase's gradient into its networks, then their optimizers' steps (those
    whose loss the guard allows), clipping and the EMA where they apply."""
    nets = gan.networks
    for net in nets.values():
        net.optimizer.zero_grad(set_to_none=True)
    for phase in phases.values():
        params = [p for name in phase.networks for p in nets[name].module.parameters()]
        phase.loss.backward(inputs=params, retain_graph=True)
    gan.critic_updates += 1
    for key, phase in phases.items():
        if not guard.allows(key, phase.loss):
            continue
        for name in phase.networks:
            nets[name].optimizer.step()
        if CRITIC in phase.networks:  # weight clipping, if any
            gan.constraint.after_d_step(gan.critic)
        if GENERATOR in phase.networks and gan.ema is not None:
            gan.ema.update_parameters(gan.generator)

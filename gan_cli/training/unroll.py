"""Unrolled GAN (Metz et al. 2017): the generator's update looks ahead k critic steps.

The generator's loss is read from the critic as it would be after k more of its own
updates against the current generator: theta_0 is the critic now, theta_{i+1} the
critic's optimizer step from theta_i on a fresh batch, and the loss is differentiated
through all k steps (torch.func.functional_call on the parameters as tensors), so the
generator is pushed where the critic cannot answer quickly, which is not to collapse
onto one mode. The simulated steps are the real ones in every respect (the objective,
the constraint's penalty and projection, the optimizer's update with its current
state), but they change nothing: the real critic takes its normal steps.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.func import functional_call

from gan_cli.core.errors import UserError
from gan_cli.losses.base import full_precision
from gan_cli.models.pacgan import pack

Params = dict[str, Tensor]
Batches = list[tuple[Tensor, Tensor]]  # (a real batch of packs, the latents of its fakes)


class Unroller:
    """Simulates `steps` critic steps as differentiable functions of the parameters."""

    def __init__(
        self, critic: nn.Module, opt: torch.optim.Optimizer, objective, constraint, steps: int
    ):
        self.critic, self.opt, self.steps = critic, opt, steps
        self.objective, self.constraint = objective, constraint
        self.update = simulated_update(opt)

    def critic_after(
        self, generator: Callable, batches: Batches, m: int, first_update: int
    ) -> Callable[[Tensor], Tensor]:
        """The critic after one simulated step per batch, as a function of packs,
        differentiable in the generator through every step's fakes. `first_update`
        numbers the first simulated step among the critic's updates (a lazy penalty
        applies where the real one would)."""
        named = dict(self.critic.named_parameters())
        params = {n: p.detach().requires_grad_(True) for n, p in named.items()}
        # copies of the buffers (batch norm statistics, spectral norm's vectors) and of
        # the optimizer's state: the simulation leaves the real critic untouched
        buffers = {n: b.clone() for n, b in self.critic.named_buffers()}
        state = {n: _copy(self.opt.state.get(p, {})) for n, p in named.items()}

        def critic_of(params: Params) -> Callable[[Tensor], Tensor]:
            return lambda x: functional_call(self.critic, {**params, **buffers}, (x,))

        for i, (real, z) in enumerate(batches):
            critic, fake = critic_of(params), pack(generator(z), m)
            d_loss = self.objective.d_loss(
                full_precision(critic(real)), full_precision(critic(fake))
            )
            if (first_update + i) % self.constraint.penalty_every == 0:
                penalty = self.constraint.penalty(critic, real, fake)
                d_loss = d_loss if penalty is None else d_loss + penalty
            grads = torch.autograd.grad(d_loss, list(params.values()), create_graph=True)
            stepped = self.update(params, dict(zip(params, grads, strict=True)), state)
            params = self.constraint.project(stepped)
        return critic_of(params)


def _copy(state: dict) -> dict:
    return {k: v.clone() if torch.is_tensor(v) else v for k, v in state.items()}


def simulated_update(opt: torch.optim.Optimizer) -> Callable[[Params, Params, dict], Params]:
    """The optimizer's step as a function (params, grads, state) -> new params, without
    in-place changes, so it can be differentiated. Adam, RMSprop and SGD in their plain
    forms (what the presets use); UserError for any other."""
    group = opt.param_groups[0]  # its lr is read at each step: a schedule may change it
    kind = type(opt).__name__
    plain = not group.get("weight_decay") and not group.get("maximize")
    if kind == "Adam" and plain and not group.get("amsgrad"):
        return _adam(group)
    if kind == "RMSprop" and plain and not group.get("momentum") and not group.get("centered"):
        return _rmsprop(group)
    if kind == "SGD" and plain and not group.get("momentum"):
        return lambda params, grads, state: {
            n: p - group["lr"] * grads[n] for n, p in params.items()
        }
    raise UserError(
        f"loss.unroll simulates the critic's optimizer, which must be Adam, RMSprop or SGD "
        f"without weight decay, momentum, amsgrad or centering; got {kind}"
    )


def _sqrt(x: Tensor) -> Tensor:
    # sqrt'(0) is infinite: a parameter that never had a gradient would turn the
    # generator's gradient into NaN. Below 1e-30 the optimizer's eps dominates anyway.
    return x.clamp_min(1e-30).sqrt()


def _adam(group: dict):
    def update(params: Params, grads: Params, state: dict) -> Params:
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        new = {}
        for n, p in params.items():
            s, g = state[n], grads[n]
            s["step"] = float(s.get("step", 0)) + 1
            s["exp_avg"] = beta1 * s.get("exp_avg", torch.zeros_like(p)) + (1 - beta1) * g
            s["exp_avg_sq"] = beta2 * s.get("exp_avg_sq", torch.zeros_like(p)) + (1 - beta2) * g * g
            m_hat = s["exp_avg"] / (1 - beta1 ** s["step"])
            v_hat = s["exp_avg_sq"] / (1 - beta2 ** s["step"])
            new[n] = p - lr * m_hat / (_sqrt(v_hat) + eps)
        return new

    return update


def _rmsprop(group: dict):
    def update(params: Params, grads: Params, state: dict) -> Params:
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        new = {}
        for n, p in params.items():
            s, g = state[n], grads[n]
            s["square_avg"] = alpha * s.get("square_avg", torch.zeros_like(p)) + (1 - alpha) * g * g
            new[n] = p - lr * g / (_sqrt(s["square_avg"]) + eps)
        return new

    return update

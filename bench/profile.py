"""16. Where a DCGAN step's time goes on CPU: torch's profiler over gan-cli's own
`train_step` (DCGAN, non-saturating loss, batch 64, CIFAR-shaped images), its CPU time
split into convolutions (transposed ones included, forward and backward), batch norm,
the optimizers' steps, drawing the data, and the rest; then the same step with
channels-last tensors and with fused Adam, each as FLOP/s against the float32 matmul
peak (the `hardware` part's measure)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch
from torch.profiler import ProfilerActivity, profile, record_function
from torch.utils.flop_counter import FlopCounterMode

from bench.common import config, data_root

VARIANTS = (  # name, channels-last, fused Adam, bf16 autocast (trainer.precision=bf16)
    ("default", False, False, False),
    ("channels_last", True, False, False),
    ("fused adam", False, True, False),
    ("channels_last + fused adam", True, True, False),
    ("trainer.precision=bf16", False, False, True),
)
KINDS = {  # op name fragments -> kind; the first that matches wins
    "conv": "convolutions",
    "batch_norm": "batch norm",
    "adam": "optimizer",
    "_foreach_": "optimizer",
}


def _step_maker(work: Path, channels_last: bool, fused: bool, bf16: bool = False):
    from gan_cli.config.build import assemble
    from gan_cli.config.spec import check
    from gan_cli.training.distributed import World
    from gan_cli.training.step import Guard, autocast, train_step

    cfg = config(
        "data=cifar10",
        f"data.root={data_root(work / 'data')}",
        "data.download=false",
        "model=dcgan",
        "loss=vanilla",
        "trainer.device=cpu",
    )
    gan, data = assemble(check(cfg), torch.device("cpu"))
    if fused:
        for net in gan.networks.values():
            net.optimizer = torch.optim.Adam(
                net.module.parameters(), **{**net.optimizer.defaults, "fused": True}
            )
    if channels_last:
        for module in gan.modules:
            module.to(memory_format=torch.channels_last)
    sample = data.sample_labelled

    def drawn():
        with record_function("data"):
            x, y = sample()
        return (x.contiguous(memory_format=torch.channels_last) if channels_last else x), y

    data.sample_labelled = drawn
    for net in gan.networks.values():  # the optimizer's step, labelled for the profile
        step = net.optimizer.step

        def labelled(*args, _step=step, **kwargs):
            with record_function("optimizer"):
                return _step(*args, **kwargs)

        net.optimizer.step = labelled
    guard, counter = Guard("stop", World()), iter(range(1, 10**9))
    precision = autocast(torch.device("cpu"), "bf16" if bf16 else "32")
    return lambda: train_step(gan, data, next(counter), guard, precision)


def _split(prof) -> dict[str, float]:
    """Self CPU seconds by kind; `data` and `optimizer` from their labels (inclusive)."""
    out = dict.fromkeys(["convolutions", "batch norm", "optimizer", "data", "other"], 0.0)
    labelled = {"data": 0.0, "optimizer": 0.0}
    for e in prof.key_averages():
        if e.key in labelled:
            labelled[e.key] += e.cpu_time_total / 1e6
            continue
        kind = next((k for frag, k in KINDS.items() if frag in e.key.lower()), "other")
        out[kind] += e.self_cpu_time_total / 1e6
    # the labelled regions' own ops were counted by kind: move them to their label
    out["optimizer"] = labelled["optimizer"]
    out["data"] = labelled["data"]
    total = sum(e.self_cpu_time_total for e in prof.key_averages()) / 1e6
    out["other"] = max(0.0, total - sum(v for k, v in out.items() if k != "other"))
    return out


def profile_step(quick: bool, work: Path) -> dict[str, Any]:
    steps = 5 if quick else 20
    flops = None
    result: dict[str, Any] = {"steps": steps, "threads": torch.get_num_threads()}
    for name, cl, fused, bf16 in VARIANTS:
        step = _step_maker(work, cl, fused, bf16)
        for _ in range(3):  # warm-up
            step()
        if flops is None:
            with FlopCounterMode(display=False) as counter:
                step()
            flops = counter.get_total_flops()
        start = time.perf_counter()
        for _ in range(steps):
            step()
        seconds = (time.perf_counter() - start) / steps
        row: dict[str, Any] = {"s_per_step": seconds, "gflop_per_s": flops / seconds / 1e9}
        if name == "default":
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                for _ in range(steps):
                    step()
            split = _split(prof)
            whole = sum(split.values())
            row["split"] = {k: v / whole for k, v in split.items()}
        result[name] = row
    n = 2048
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    start = time.perf_counter()
    for _ in range(10):
        a @ b
    peak = 2 * n**3 * 10 / (time.perf_counter() - start)
    result["flops_per_step"] = flops
    result["matmul_peak_gflop_per_s"] = peak / 1e9
    for name, *_ in VARIANTS:
        result[name]["fraction_of_peak"] = result[name]["gflop_per_s"] * 1e9 / peak
    return result

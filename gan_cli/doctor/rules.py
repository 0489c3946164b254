"""The rules: one known failure of GAN training each, registered in the order findings
are ranked (causes before the symptoms they bring).

Each reads scalars the run logs (the health scalars every trainer.log_every steps,
the metrics every trainer.eval_every), says at each point whether its failure shows,
and names its remedies as overrides, best first. Thresholds say where they come from:
a paper, or the doctor part of the bench (bench/doctor.py, docs/results/doctor.md),
which measures them on known-broken and known-healthy runs.
"""

from __future__ import annotations

import bisect
import math

from gan_cli.doctor.base import Point, Remedy, Scalars, at, finite, median, rule

WINDOW = 4  # logged points a log-cadence rule reads at once (their median: one batch is noisy)
WARMUP = 0.1  # the first tenth of a run is not judged: every GAN starts far from the data
SETTLED = 0.3  # quality rules judge from this share of the run on: the generator had time
STALLED = 0.9  # the latest half of the run improved the measure by less than 10%
TOY_MODES = {"ring8": 8, "grid25": 25}
# wasserstein/exact of 2,000 fresh data points to the 2,000 held-out ones, the mean of 3
# seeds (bench/doctor.py, toy_floors): the data's own, its floor; no generator does better
TOY_FLOOR = {"ring8": 0.054, "grid25": 0.075, "swissroll": 0.075, "lines": 0.013}


def windowed(run: Scalars, key: str) -> list[tuple[int, float]]:
    """(step, median of the WINDOW latest values up to it) of a log-cadence scalar, from
    the end of the warm-up on."""
    raw = run.series(key)
    start = WARMUP * run.target
    out = []
    for i, (step, _) in enumerate(raw):
        if step > start:
            out.append((step, median(finite([v for _, v in raw[max(0, i - WINDOW + 1) : i + 1]]))))
    return out


def lr(run: Scalars, net: str) -> float | None:
    value = run.get(f"optim.{net}.lr")
    return float(value) if isinstance(value, int | float) else None


def scaled_lrs(run: Scalars, factor: float) -> tuple[str, ...]:
    """Both learning rates times `factor`, as overrides."""
    return tuple(
        f"optim.{net}.lr={lr(run, net) * factor:.3g}"
        for net in ("g", "d")
        if lr(run, net) is not None
    )


def objective(run: Scalars) -> str:
    """The objective's class name (Minimax, Wasserstein, ...) from its `_target_`."""
    return str(run.get("loss.objective._target_", "")).rsplit(".", 1)[-1]


def constraint(run: Scalars) -> str:
    return str(run.get("loss.constraint._target_", "")).rsplit(".", 1)[-1]


def is_wgan_gp(run: Scalars) -> bool:
    return objective(run) == "Wasserstein" and constraint(run) == "GradientPenalty"


def unlimited(run: Scalars) -> str | None:
    """Why a rule of the training set cannot be checked on unlimited data (toy2d)."""
    if str(run.get("data._target_", "")).endswith("Toy2D"):
        return "the training data is unlimited: toy2d draws fresh points"
    return None


# --- divergence -----------------------------------------------------------------------------

EXPLODE = 100.0  # health/grad_g above 100 x its median over the run so far: exploding
WORSE = 2.5  # the quality measure back above 2.5 x the best it reached, after the warm-up


def _divergence(run: Scalars) -> list[Point] | str:
    points = []
    losses = {k: run.series(k) for k in ("loss/d", "loss/g", "health/grad_g", "health/grad_d")}
    for key, series in losses.items():
        for step, value in series:
            if not math.isfinite(value):
                return [Point(step, True, {key: value})]
    stopped = run.stopped
    if stopped:
        return [Point(run.last_step, True, {"stopped": 1.0})]
    grads = run.series("health/grad_g")
    quality = Quality.of(run)
    measured = quality.series if quality else []
    so_far: list[float] = []  # the gradient norms up to the step, sorted (for the median)
    best, g_next, q_next = math.inf, 0, 0  # the best quality so far; the next unread points
    for step in sorted({s for s, _ in grads} | {s for s, _ in measured}):
        while g_next < len(grads) and grads[g_next][0] <= step:
            bisect.insort(so_far, grads[g_next][1])
            g_next += 1
        while q_next < len(measured) and measured[q_next][0] <= step:
            best = min(best, measured[q_next][1])
            q_next += 1
        if step <= WARMUP * run.target:
            continue
        values: dict[str, float] = {}
        fires = False
        if so_far and (g := at(grads, step)) is not None:
            values["health/grad_g"] = g
            middle = so_far[len(so_far) // 2]
            fires |= g > EXPLODE * middle and len(so_far) > WINDOW
        if quality is not None and (q := at(measured, step)) is not None:
            values[quality.key], values["best"] = q, best
            # it had reached a good point (within `far` floors) and left it
            fires |= q > WORSE * best and best < quality.far * quality.floor
        points.append(Point(step, fires, values))
    return points


def _divergence_evidence(p: Point, run: Scalars) -> str:
    if "stopped" in p.values:
        return f"the run stopped at step {p.step}: {run.stopped}"
    bad = [k for k in ("loss/d", "loss/g", "health/grad_g", "health/grad_d") if k in p.values]
    if bad:
        return f"{bad[0]} is {p.values[bad[0]]} at step {p.step}"
    q = Quality.of(run)
    if q is not None and q.key in p.values and p.values[q.key] > WORSE * p.values["best"]:
        return (
            f"{q.key} is back up to {p.values[q.key]:.3g} after reaching {p.values['best']:.3g} "
            f"(over {WORSE}x its best): the game oscillates away from a good point"
        )
    g = p.values.get("health/grad_g", math.nan)
    return f"health/grad_g = {g:.3g}, over {EXPLODE:g}x its median"


rule(
    "divergence",
    title="training diverged or oscillates",
    reads=("loss/d", "loss/g", "health/grad_g", "the quality measure", "status.json"),
    threshold=f"a non-finite loss; or the quality measure back above {WORSE}x its best after "
    f"it came within 4 (toy) or 10 (images) floors of the data; or health/grad_g above "
    f"{EXPLODE:g}x its median",
    why="learning rates too high for the game make it diverge or cycle (Mescheder et al. "
    "2018); the factors are the bench's, set between the zoo's diverged and healthy runs",
    evidence=_divergence_evidence,
    remedies=lambda run: [
        Remedy(scaled_lrs(run, 0.1), "smaller steps: a tenth of both learning rates"),
        *(
            []
            if is_wgan_gp(run)
            else [Remedy(("loss=wgan_gp",), "a critic whose gradient stays bounded")]
        ),
        Remedy(("trainer.nan_policy=skip",), "skip the updates whose loss is not finite"),
    ],
    summary=lambda pts: "no non-finite loss; the quality measure stayed near its best",
    persist=1,
    plot=("loss/d", "loss/g", "health/grad_g"),
)(_divergence)


class Quality:
    """The run's quality measure, lower is better, with the real data's own value (its
    floor): exact W1 on toy data, fid/classifier on labelled images, the mode KL on
    Stacked MNIST. `far`: how many floors away a measure is far from it."""

    def __init__(self, key: str, series: list[tuple[int, float]], floor: float, far: float):
        self.key, self.series, self.floor, self.far = key, series, floor, far

    @classmethod
    def of(cls, run: Scalars) -> Quality | None:
        toy = run.get("data.distribution")
        if run.has("wasserstein/exact") and toy in TOY_FLOOR:
            return cls("wasserstein/exact", run.series("wasserstein/exact"), TOY_FLOOR[toy], 4.0)
        for key in ("fid/classifier", "modes/kl"):
            floors = finite([v for _, v in run.series(f"floor/{key}")])
            if run.has(key) and floors:
                # a Frechet distance of two real samples is near 0: "far" is then absolute
                return cls(key, run.series(key), max(floors[-1], 0.05), 10.0)
        return None


# --- weight clipping ------------------------------------------------------------------------

SATURATED = 0.5  # health/clip_saturation: half the critic's weights at the bound
TIGHT_K = 0.05  # critic/lipschitz below this: the critic's slopes, which G follows, vanish
LOOSE_K = 10.0  # critic/lipschitz above this with few weights at the bound: no constraint


def clipped(run: Scalars) -> str | None:
    if constraint(run) != "WeightClipping":
        return "the critic is not weight-clipped: loss.clip applies to loss=wgan"
    return None


def _clip_points(run: Scalars, fires) -> list[Point] | str:
    if (no := clipped(run)) is not None:
        return no
    saturation = windowed(run, "health/clip_saturation")
    lipschitz = run.series("critic/lipschitz")
    if not lipschitz:
        return "critic/lipschitz is not logged: metrics.eval leaves `normalized` out"
    points = []
    for step, k in lipschitz:
        if step <= WARMUP * run.target or (s := at(saturation, step)) is None:
            continue
        values = {"critic/lipschitz": k, "health/clip_saturation": s}
        points.append(Point(step, fires(k, s), values))
    return points


def _clip_remedies(run: Scalars, factor: float) -> list:
    c = float(run.get("loss.clip", 0.01))
    return [  # the penalty first: the zoo's clip 0.001 run still fired at 10x the bound
        Remedy(("loss=wgan_gp",), "a gradient penalty in place of clipping (Gulrajani et al.)"),
        Remedy((f"loss.clip={c * factor:.3g}",), f"a bound {factor:g} times the one used"),
    ]


def _clip_evidence(p: Point, run: Scalars) -> str:
    k, s = p.values["critic/lipschitz"], p.values["health/clip_saturation"]
    return (
        f"critic/lipschitz = {k:.3g} with {s:.0%} of the critic's weights at the bound "
        f"(loss.clip={run.get('loss.clip')})"
    )


rule(
    "clip_too_tight",
    title="the clipping bound is too tight: the critic's gradients vanish",
    reads=("health/clip_saturation", "critic/lipschitz", "loss.clip"),
    threshold=f"health/clip_saturation >= {SATURATED} and critic/lipschitz < {TIGHT_K}",
    why="Gulrajani et al. 2017, Fig. 1: a tight bound pins the weights at +-c and the "
    "critic's gradients vanish; K from the bench's zoo (clip 0.001: K ~ 1e-6; "
    "healthy clipped critics: K ~ 1)",
    evidence=_clip_evidence,
    remedies=lambda run: _clip_remedies(run, 10),
    summary=lambda pts: f"critic/lipschitz = {pts[-1].values['critic/lipschitz']:.3g}",
    plot=("critic/lipschitz", "health/clip_saturation"),
    lines={"critic/lipschitz": TIGHT_K, "health/clip_saturation": SATURATED},
)(lambda run: _clip_points(run, lambda k, s: s >= SATURATED and k < TIGHT_K))

rule(
    "clip_too_loose",
    title="the clipping bound is too loose: the critic is unconstrained",
    reads=("health/clip_saturation", "critic/lipschitz", "loss.clip"),
    threshold=f"critic/lipschitz > {LOOSE_K:g} and health/clip_saturation < {SATURATED}",
    why="Gulrajani et al. 2017, Fig. 1: a loose bound lets the critic's gradients explode; "
    "an unconstrained critic's estimate is no longer K * W1 for a fixed K (Arjovsky et al.)",
    evidence=_clip_evidence,
    remedies=lambda run: _clip_remedies(run, 0.1),
    summary=lambda pts: f"critic/lipschitz = {pts[-1].values['critic/lipschitz']:.3g}",
    plot=("critic/lipschitz", "health/clip_saturation"),
    lines={"critic/lipschitz": LOOSE_K},
)(lambda run: _clip_points(run, lambda k, s: k > LOOSE_K and s < SATURATED))


# --- the generator's gradient and the critic's strength --------------------------------------

VANISHED = 0.01  # health/grad_g below 1% of its peak so far (both windowed)
CONFIDENT = 0.9  # health/d_accuracy at or above this: the discriminator wins


def _vanishing(run: Scalars) -> list[Point] | str:
    grads = windowed(run, "health/grad_g")
    accuracy = windowed(run, "health/d_accuracy")
    points, peak = [], 0.0
    for step, g in grads:
        peak = max(peak, g)
        values = {"health/grad_g": g, "peak": peak}
        fires = g < VANISHED * peak
        if accuracy:  # a classifier: it vanishes because D rejects the fakes
            a = at(accuracy, step)
            values["health/d_accuracy"] = a if a is not None else math.nan
            fires = fires and a is not None and a >= CONFIDENT
        points.append(Point(step, fires, values))
    return points


def _vanishing_remedies(run: Scalars) -> list:
    found = []
    # WGAN-GP first: its critic's gradient does not saturate however strong the critic is;
    # the non-saturating loss alone leaves a discriminator that wins (the bench's zoo run
    # with it collapses to one mode)
    if not is_wgan_gp(run):
        found.append(Remedy(("loss=wgan_gp",), "a critic whose gradient does not saturate"))
    if run.get("loss.saturating"):
        found.append(Remedy(("loss.saturating=false",), "the non-saturating loss -log D(G(z))"))
    if (d := lr(run, "d")) is not None:
        found.append(Remedy((f"optim.d.lr={d / 4:.3g}",), "a slower discriminator"))
    return found


rule(
    "vanishing_gradients",
    title="the generator's gradient vanished",
    reads=("health/grad_g", "health/d_accuracy"),
    threshold=f"health/grad_g < {VANISHED:g} x its peak (and health/d_accuracy >= {CONFIDENT} "
    "where the critic is a classifier)",
    why="Goodfellow et al. 2014, Sec. 3: with log(1 - D(G(z))) the gradient vanishes once D "
    "rejects the fakes confidently; Arjovsky & Bottou 2017 show it for any near-perfect D",
    evidence=lambda p, run: (
        f"health/grad_g = {p.values['health/grad_g']:.3g}, "
        f"{p.values['health/grad_g'] / p.values['peak']:.2%} "
        f"of its peak {p.values['peak']:.3g}"
        + (
            f"; health/d_accuracy = {p.values['health/d_accuracy']:.2f}"
            if "health/d_accuracy" in p.values
            else ""
        )
    ),
    remedies=_vanishing_remedies,
    summary=lambda pts: (
        f"health/grad_g = {pts[-1].values['health/grad_g']:.3g} (peak {pts[-1].values['peak']:.3g})"
    ),
    persist=4,
    plot=("health/grad_g", "health/d_accuracy"),
    lines={"health/d_accuracy": CONFIDENT},
)(_vanishing)

# --- the training set: overfitting and copying -----------------------------------------------

OVERFITS = 0.5  # health/rv: held-out images halfway from training to generated ones
COPIES = 0.75  # health/copy_rate: 3 in 4 samples nearer the training set than real images are


def _finite_data(run: Scalars, key: str) -> list[Point] | str:
    if (no := unlimited(run)) is not None:
        return no
    if not run.has(key):
        return f"{key} is not logged: no evaluation computed `overfitting` (metrics.eval)"
    limit = {"health/rv": OVERFITS, "health/copy_rate": COPIES}[key]
    return [Point(s, v > limit, {key: v}) for s, v in run.series(key) if math.isfinite(v)]


def _augment(run: Scalars) -> list:
    if run.get("data.augment"):
        return []
    return [
        Remedy(
            ('data.augment="translation,cutout"', "data.augment_target=0.6"),
            "ADA: augment what the critic sees, as much as r_t asks (Karras et al.)",
        )
    ]


rule(
    "memorization",
    title="the generator copies its training images",
    reads=("health/copy_rate",),
    threshold=f"health/copy_rate > {COPIES} (a fresh sample of the data scores 0.5)",
    why="samples nearer their nearest training image than held-out real images are have "
    "been copied (the nearest-neighbour test of Webster et al. 2019, in features)",
    evidence=lambda p, run: (
        f"health/copy_rate = {p.values['health/copy_rate']:.2f}: that "
        "share of samples is nearer the training set than the median held-out image"
    ),
    remedies=lambda run: [
        *_augment(run),
        Remedy((f"trainer.steps={max(1, run.target // 2)}",), "stop before it memorizes"),
        *(
            [Remedy(("data.fraction=1",), "all of the training set")]
            if (run.get("data.fraction") or 1) < 1
            else []
        ),
    ],
    summary=lambda pts: f"health/copy_rate = {pts[-1].values['health/copy_rate']:.2f}",
    plot=("health/copy_rate",),
    lines={"health/copy_rate": COPIES},
)(lambda run: _finite_data(run, "health/copy_rate"))

rule(
    "critic_overfits",
    title="the critic overfits its training set",
    reads=("health/rv",),
    threshold=f"health/rv > {OVERFITS}",
    why="Karras et al. 2020 (ADA), Fig. 1: the critic's outputs on held-out images drift "
    "from the training images' towards the generated ones as it memorizes a small set",
    evidence=lambda p, run: (
        f"health/rv = {p.values['health/rv']:.2f}: held-out real images "
        "score closer to generated ones than to training ones"
    ),
    remedies=lambda run: [
        *_augment(run),
        *(
            [Remedy(("data.fraction=1",), "all of the training set")]
            if (run.get("data.fraction") or 1) < 1
            else []
        ),
        Remedy(
            ("loss.constraint=r1", "loss.r1_gamma=1"), "R1 keeps the critic smooth on the real data"
        ),
    ],
    summary=lambda pts: f"health/rv = {pts[-1].values['health/rv']:.2f}",
    plot=("health/rv",),
    lines={"health/rv": OVERFITS},
)(lambda run: _finite_data(run, "health/rv"))


OVERPOWERS = {"health/d_accuracy": 0.9, "health/rt": 0.95}  # at or above: the critic wins
ALONE = 0.98  # the same without a quality measure to show the generator stalled


def _overpowers(run: Scalars) -> list[Point] | str:
    """The critic wins and the generator's quality stopped improving: an image GAN's
    discriminator is right 90% of the time early on while its samples improve fast (the
    Fashion-MNIST recipe), which is no failure."""
    key = "health/d_accuracy" if run.has("health/d_accuracy") else "health/rt"
    g, d = lr(run, "g"), lr(run, "d")
    if g is not None and d is not None and g < d / 50:  # a generator that hardly moves:
        return "the generator's learning rate is under 1/50 of the critic's"
    wins = windowed(run, key)
    quality = Quality.of(run)
    if quality is None:  # the critic's side alone, then, and a higher bar
        return [Point(s, v >= ALONE, {key: v}) for s, v in wins]
    points = []
    for step, q in quality.series:
        if step <= WARMUP * run.target or (v := at(wins, step)) is None:
            continue
        flat = stalled(quality.series, step)
        values = {key: v, quality.key: q}
        points.append(Point(step, v >= OVERPOWERS[key] and flat is not None and flat, values))
    return points


def _overpowers_remedies(run: Scalars) -> list:
    found = []
    n, g, d = int(run.get("loss.n_critic", 1) or 1), lr(run, "g"), lr(run, "d")
    if objective(run) != "Wasserstein" and (n > 1 or (g is not None and d is not None and d > g)):
        matched = ("loss.n_critic=1", *([f"optim.d.lr={g:.3g}"] if g and d and d > g else []))
        found.append(Remedy(matched, "a discriminator as fast as the generator: one step each"))
    if not is_wgan_gp(run):
        found.append(Remedy(("loss=wgan_gp",), "a critic held to 1-Lipschitz"))
    if n > 1 and objective(run) == "Wasserstein":
        found.append(Remedy((f"loss.n_critic={max(1, n // 5)}",), "fewer critic steps"))
    if d is not None:
        found.append(Remedy((f"optim.d.lr={d / 5:.3g}",), "a slower critic"))
    return found


rule(
    "critic_overpowers",
    title="the critic overpowers the generator",
    reads=("health/d_accuracy", "health/rt"),
    threshold=f"health/d_accuracy >= {OVERPOWERS['health/d_accuracy']} (classifiers) or "
    f"health/rt >= {OVERPOWERS['health/rt']} (critics) while the quality measure improved by "
    f"less than {1 - STALLED:.0%} over the latest half of the run ({ALONE} without one)",
    why="a discriminator that separates every batch gives the generator no direction it can "
    "follow (Arjovsky & Bottou 2017); the thresholds sit above the healthy runs of the "
    "bench's zoo (vanilla on ring8: accuracy 0.7-0.88)",
    evidence=lambda p, run: (
        ", ".join(f"{k} = {v:.3f}" for k, v in p.values.items()) + " over the latest logged steps"
    ),
    remedies=_overpowers_remedies,
    summary=lambda pts: ", ".join(f"{k} = {v:.3f}" for k, v in pts[-1].values.items()),
    plot=("health/d_accuracy", "health/rt"),
    lines=OVERPOWERS,
)(_overpowers)


# --- whether it improves, and what it covers -----------------------------------------------


def stalled(series: list[tuple[int, float]], step: int) -> bool | None:
    """Whether a measure (lower is better) improved by less than 10% in the latest half
    of the run up to `step` over its first half; None before both halves have a value."""
    early = finite([x for s, x in series if s <= step / 2])
    late = finite([x for s, x in series if step / 2 < s <= step])
    if not early or not late:
        return None
    return min(late) > STALLED * min(early)


def _slow_generator(run: Scalars) -> list:
    """A generator's learning rate far under the critic's: the generator hardly moves."""
    g, d = lr(run, "g"), lr(run, "d")
    if g is not None and d is not None and g < d / 10:
        return [
            Remedy((f"optim.g.lr={d:.3g}",), "the generator's learning rate up to the critic's")
        ]
    if g is not None and g < 1e-5:
        return [Remedy(scaled_lrs(run, 10), "larger steps: the learning rates look too small")]
    return []


def _no_progress(run: Scalars) -> list[Point] | str:
    q = Quality.of(run)
    if q is None:
        return (
            "no quality measure with a floor is logged "
            "(wasserstein/exact on toy data, fid/classifier on labelled images)"
        )
    points = []
    for step, v in q.series:
        if step < SETTLED * run.target or not math.isfinite(v):
            continue
        flat = stalled(q.series, step)
        if flat is None:
            continue
        early = finite([x for s, x in q.series if s <= step / 2])
        late = finite([x for s, x in q.series if step / 2 < s <= step])
        values = {q.key: v, "floor": q.floor, "earlier": min(early)}
        fires = min(late) > q.far * q.floor and flat
        points.append(Point(step, fires, values))
    return points


rule(
    "no_progress",
    title="training stalled far from the data",
    reads=("wasserstein/exact", "fid/classifier", "modes/kl", "their floors"),
    threshold=f"the quality measure above 4x (toy) or 10x (images) its floor and less than "
    f"{1 - STALLED:.0%} better than in the run's first half",
    why="the real data's own score is the floor a perfect generator reaches; the factors "
    "sit between the zoo's stalled runs and the tuned recipes' (bench doctor part)",
    evidence=lambda p, run: (
        f"{next(iter(p.values))} = {next(iter(p.values.values())):.3g}, "
        f"{next(iter(p.values.values())) / p.values['floor']:.1f}x "
        f"the floor {p.values['floor']:.3g}; "
        f"it was {p.values['earlier']:.3g} in the first half"
    ),
    remedies=lambda run: [
        *_slow_generator(run),
        Remedy((f"trainer.steps={2 * run.target}",), "train twice as long"),
        *(
            []
            if is_wgan_gp(run)
            else [Remedy(("loss=wgan_gp",), "WGAN-GP, the most forgiving preset")]
        ),
    ],
    summary=lambda pts: (
        f"{next(iter(pts[-1].values))} = {next(iter(pts[-1].values.values())):.3g} "
        f"(floor {pts[-1].values['floor']:.3g})"
    ),
    plot=("wasserstein/exact", "fid/classifier", "modes/kl"),
)(_no_progress)


MISSED = 0.1  # toy: more than a tenth of the modes (at least one) missed
RECALL = 0.5  # images: prdc/recall below half of the real data's own
DIVERSE = 0.3  # health/diversity: samples less than 30% as spread as the data


def _coverage(run: Scalars) -> tuple[str, list[tuple[int, float]], float] | None:
    """(key, series, the least value that is not collapse) of what covers the data."""
    toy = run.get("data.distribution")
    if toy in TOY_MODES and run.has("modes/captured"):
        total = TOY_MODES[toy]
        return "modes/captured", run.series("modes/captured"), total - max(1, MISSED * total)
    for key, share in (("modes/captured", 0.5), ("prdc/recall", RECALL), ("classes/covered", 1.0)):
        floors = finite([v for _, v in run.series(f"floor/{key}")])
        if run.has(key) and floors:
            least = floors[-1] * share if key != "classes/covered" else floors[-1] - 1
            return key, run.series(key), least
    return None


def _collapse(run: Scalars) -> list[Point] | str:
    found = _coverage(run)
    diversity = windowed(run, "health/diversity")
    if found is None and not diversity:
        return "no modes, classes, recall or diversity logged"
    points = []
    steps = [s for s, _ in found[1]] if found else [s for s, _ in diversity]
    for step in steps:
        if step < SETTLED * run.target:
            continue
        values, fires = {}, False
        if found is not None and (v := at(found[1], step)) is not None:
            values[found[0]], values["least"] = v, found[2]
            low = v < found[2] and precise(run, found[0], step)
            fires |= low and not rising(found[1], step)
        if (d := at(diversity, step)) is not None:
            values["health/diversity"] = d
            fires |= d < DIVERSE
        points.append(Point(step, fires, values))
    return points


def rising(series: list[tuple[int, float]], step: int) -> bool:
    """Whether a coverage measure (higher is better) reached a new high at `step`, over
    10% above every earlier value: a generator still finding modes is not collapsed, only
    not there yet (one that loses modes it had, or stays put, is)."""
    before = finite([x for s, x in series if s < step])
    now = at(series, step)
    return not before or (now is not None and now > max(before) * (2 - STALLED))


def precise(run: Scalars, key: str, step: int) -> bool:
    """Low recall is collapse only where the samples themselves are good: prdc/precision
    at least half the real data's own (low both is a generator not there yet)."""
    if key != "prdc/recall":
        return True
    precision = at(run.series("prdc/precision"), step)
    floors = finite([v for _, v in run.series("floor/prdc/precision")])
    return precision is not None and bool(floors) and precision >= 0.5 * floors[-1]


def _collapse_evidence(p: Point, run: Scalars | None) -> str:
    """The values; with where collapse begins, when `run` is given (a finding)."""
    parts = [f"{k} = {v:.3g}" for k, v in p.values.items() if k != "least"]
    if run is not None and "least" in p.values:
        parts.append(f"collapse below {p.values['least']:.3g} modes/classes/recall")
    return ", ".join(parts)


def _collapse_remedies(run: Scalars) -> list:
    toy = run.get("data.distribution") in TOY_MODES
    found = []
    if not is_wgan_gp(run):  # the bench's remedies part: 24.3/25 grid modes in 1,500 steps
        found.append(Remedy(("loss=wgan_gp",), "WGAN-GP: every mode pulls on the generator"))
    elif toy and run.get("loss.gp_lambda") != 0.1:
        found.append(Remedy(("loss.gp_lambda=0.1",), "the WGAN-GP toy code's lambda"))
    if objective(run) == "Minimax" and constraint(run) == "Constraint":
        found.append(
            Remedy(
                ("loss.constraint=r1", "loss.r1_gamma=0.1"),
                "R1 on the discriminator (Mescheder et al. 2018)",
            )
        )
    if int(run.get("loss.pack", 1) or 1) == 1:
        found.append(Remedy(("loss.pack=4",), "PacGAN: the critic judges packs of 4 (Lin et al.)"))
    return found


rule(
    "mode_collapse",
    title="the generator covers only part of the data (mode collapse)",
    reads=("modes/captured", "prdc/recall", "classes/covered", "health/diversity"),
    threshold=f"toy: more than {MISSED:.0%} of the modes missed; Stacked MNIST: under half the "
    f"floor's modes; images: prdc/recall under {RECALL} x its floor while prdc/precision is "
    f"at least half its floor, or a class fewer than the floor covers; each unless it is a "
    f"new high, {1 - STALLED:.0%} over every earlier value; any data: "
    f"health/diversity < {DIVERSE}",
    why="VEEGAN and PacGAN count modes so (Srivastava et al. 2017, Lin et al. 2018); recall "
    "and classes against the real data's own (Naeem et al. 2020); diversity from the zoo",
    evidence=_collapse_evidence,
    remedies=_collapse_remedies,
    summary=lambda pts: _collapse_evidence(pts[-1], None),
    plot=("modes/captured", "prdc/recall", "classes/covered", "health/diversity"),
    lines={"health/diversity": DIVERSE},
)(_collapse)

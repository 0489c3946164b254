"""python -m bench.report: the README's Results tables, in Markdown, from bench/results."""

from __future__ import annotations

import json

from bench.common import RESULTS

# Published numbers the toy table is comparable to: modes captured and high-quality
# samples (%), 2,500 samples, 3 standard deviations (VEEGAN, Srivastava et al. 2017,
# Table 1; PacGAN, Lin et al. 2018).
PUBLISHED = {
    "GAN (VEEGAN Table 1)": ("1", "99.3", "3.3", "0.5"),
    "VEEGAN": ("8", "52.9", "24.6", "40.0"),
    "PacGAN4": ("7.8", "95.9", "24.8", "93.6"),
}


def _load(part: str) -> dict:
    return json.loads((RESULTS / f"{part}.json").read_text())


def _ms(stat: dict, fmt: str, scale: float = 1.0) -> str:
    return f"{fmt.format(stat['mean'] * scale)} ± {fmt.format(stat['std'] * scale)}"


def main() -> None:
    q = _load("quality")
    quality = q["result"]
    seeds = ", ".join(map(str, quality["seeds"]))
    print(f"Toy quality, {quality['steps']} generator steps, mean ± std over seeds {seeds}.")
    summary = quality["summary"]
    names = dict.fromkeys(k.rsplit(" ", 1)[0] for k in summary)
    for dist, published in (("ring8", 0), ("grid25", 2)):
        print(f"\n**{dist}**\n")
        print(
            "| loss | modes captured | high quality % | exact W1 | critic's estimate | s per run |"
        )
        print("|---|---|---|---|---|---|")
        for name in names:
            r = summary[f"{name} {dist}"]
            seconds = f"{r['seconds']['mean']:.0f}" if "seconds" in r else "-"
            if "modes/captured" not in r:
                print(
                    f"| {name} | diverged ({r['diverged']}/{r['runs']}) | - | - | - | {seconds} |"
                )
                continue
            note = f" ({r['diverged']}/{r['runs']} diverged)" if r["diverged"] else ""
            estimate = _ms(r["estimate"], "{:.3g}") if "estimate" in r else "-"
            cells = [
                _ms(r["modes/captured"], "{:.1f}") + note,
                _ms(r["modes/hq_fraction"], "{:.1f}", 100),
                _ms(r["wasserstein/exact"], "{:.3f}"),
                estimate,
                seconds,
            ]
            print(f"| {name} | {' | '.join(cells)} |")
        for paper, row in PUBLISHED.items():
            modes, hq = row[published : published + 2]
            print(f"| *{paper}* | {modes} | {hq} | | | |")
    o = _load("overhead")
    print(f"\nLoop overhead ({o['machine']['cpu']}, {o['machine']['cores']} cores):\n")
    print(
        "| case | steps per block | gan-train steps/s | bare loop steps/s "
        "| ratio per round | median ratio |"
    )
    print("|---|---|---|---|---|---|")
    for name, r in o["result"].items():
        ours, bare = r["gan_train_steps_per_s"], r["bare_steps_per_s"]
        rounds = ", ".join(f"{x:.3f}" for x in r["ratios"])
        cells = [
            str(r["steps_per_block"]),
            ", ".join(f"{x:.2f}" for x in ours),
            ", ".join(f"{x:.2f}" for x in bare),
            rounds,
            f"**{r['ratio']:.3f}**",
        ]
        print(f"| {name} | {' | '.join(cells)} |")
    h = _load("hardware")["result"]
    print(
        f"\nDCGAN step (batch 64, CIFAR-shaped): {h['flops_per_step'] / 1e9:.1f} GFLOP, "
        f"{h['steps_per_s']:.2f} steps/s = {h['achieved_flops'] / 1e9:.0f} GFLOP/s, "
        f"{h['fraction_of_peak']:.0%} of the float32 matmul peak "
        f"({h['matmul_peak_flops'] / 1e9:.0f} GFLOP/s).\n"
    )
    print("| data (batches of 64) | gan-cli batches/s | DataLoader, 2 workers | speed-up |")
    print("|---|---|---|---|")
    for name, r in _load("pipeline")["result"].items():
        print(
            f"| {name} | {r['gan_cli_batches_per_s']:,.0f} "
            f"| {r['dataloader_batches_per_s']:,.0f} | {r['speedup']:.0f}x |"
        )
    print("\n| process | peak resident memory |")
    print("|---|---|")
    for name, r in _load("memory")["result"].items():
        print(f"| {name} | {r['peak_rss_mib']:,.0f} MiB |")
    shows = (
        ("tracking", _tracking),
        ("stacked", _stacked),
        ("remedies", _remedies),
        ("conditional", _conditional),
        ("images", _images),
    )
    for part, show in shows:
        if (RESULTS / f"{part}.json").is_file():
            show(_load(part)["result"])
    gpu = _load("gpu")["result"] if (RESULTS / "gpu.json").is_file() else {"skipped": "not run"}
    if "skipped" in gpu:
        print(f"\nGPU part: skipped ({gpu['skipped']}).")


def _tracking(t: dict) -> None:
    seeds = ", ".join(map(str, t["seeds"]))
    print(
        f"\nThe estimates against exact W1, {t['steps']} steps, evaluated every "
        f"{t['eval_every']}, mean over seeds {seeds}: Spearman over the run / ratio at the end.\n"
    )
    print("| loss | data | exact W1 at end | `wasserstein/normalized` | `wasserstein/heldout` |")
    print("|---|---|---|---|---|")
    for key, r in t["summary"].items():
        name, dist = key.rsplit(" ", 1)
        cells = []
        for estimate in ("wasserstein/normalized", "wasserstein/heldout"):
            rho = r[estimate]["spearman"]
            shown = "-" if rho is None else f"{rho:.2f}"
            cells.append(f"{shown} / {r[estimate]['end_ratio']:.2f}")
        print(f"| {name} | {dist} | {r['exact_end']:.3f} | {' | '.join(cells)} |")


def _stacked(s: dict) -> None:
    print(
        f"\nStacked MNIST ({s['base']} digits; classifier test accuracy "
        f"{s['classifier_accuracy']:.1%}), {s['steps']} generator steps, "
        f"{s['samples']:,} samples.\n"
    )
    print("| model | seed | modes (of 1,000) | KL to uniform | s |")
    print("|---|---|---|---|---|")
    for r in sorted(s["runs"], key=lambda r: (r["config"], r["seed"])):
        cells = [f"{r['modes/captured']:.0f}", f"{r['modes/kl']:.2f}", f"{r['seconds']:.0f}"]
        print(f"| {r['config']} | {r['seed']} | {' | '.join(cells)} |")
    for name, r in s["published"].items():
        print(f"| *{name}* | | {r['modes/captured']:.0f} | {r['modes/kl']:.2f} | |")


def _conditional(c: dict) -> None:
    print(
        f"\nConditional against unconditional DCGAN on Fashion-MNIST, {c['steps']} generator "
        f"steps, seed {', '.join(map(str, c['seeds']))} (classifier test accuracy "
        f"{c['classifier_accuracy']:.1%}).\n"
    )
    print(
        "| model | `fid/classifier` | `prdc/precision` | `prdc/coverage` | `classes/covered` "
        "| `classes/accuracy` | `fid/classifier_per_class` (worst class) | s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in c["runs"]:
        accuracy = r.get("classes/accuracy")
        per_class = "-"
        if "fid/classifier_worst_class" in r:
            per_class = f"{r['fid/classifier_per_class']:.1f} ({r['fid/classifier_worst_class']})"
        cells = [
            f"{r['fid/classifier']:.1f}",
            f"{r['prdc/precision']:.3f}",
            f"{r['prdc/coverage']:.3f}",
            f"{r['classes/covered']:.0f}",
            "-" if accuracy is None else f"{accuracy:.3f}",
            per_class,
            f"{r['seconds']:.0f}",
        ]
        print(f"| {r['config']} | {' | '.join(cells)} |")


def _images(result: dict) -> None:
    summary, runs = result["summary"], result["runs"]
    print(
        f"\nImages near the floor: real Fashion-MNIST, mean ± std over seeds, one core a run "
        f"(classifier test accuracy {result['classifier_accuracy']:.1%}).\n"
    )
    print(
        "| recipe | seeds | steps | `fid/classifier` (floor) | x floor | precision | recall "
        "| density | coverage | `classes/score` (floor) | `classes/accuracy` | CPU min |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, r in summary.items():
        if "fid/classifier" not in r:
            continue
        cells = [
            str(r["runs"]),
            f"{r['steps']:,}",
            f"{_mean(r, 'fid/classifier', '{:.2f}')} ({r['floor/fid/classifier']:.2f})",
            f"{r['fid/classifier over floor']:.1f}",
            *(_mean(r, f"prdc/{k}", "{:.3f}") for k in ("precision", "recall", "density")),
            _mean(r, "prdc/coverage", "{:.3f}"),
            f"{_mean(r, 'classes/score', '{:.2f}')} ({r['floor/classes/score']:.2f})",
            _mean(r, "classes/accuracy", "{:.3f}") if "classes/accuracy" in r else "-",
            f"{r['cpu_seconds'] / 60:.1f}",
        ]
        print(f"| {name} | {' | '.join(cells)} |")
    for name, r in summary.items():
        if "modes/captured" in r:
            print(
                f"\n{name} (Stacked MNIST): {r['modes/captured']:.0f} modes, KL "
                f"{r['modes/kl']:.3f}; real stacks {r['floor/modes/captured']:.0f}, KL "
                f"{r['floor/modes/kl']:.3f}; {r['cpu_seconds'] / 60:.1f} CPU min."
            )
    full = {r["seed"]: r["fid/classifier"] for r in runs if r["config"] == "best"}
    for run in sorted(runs, key=lambda r: (r["config"], r["seed"])):
        if "10%" in run["config"] and run["seed"] in full:
            print(
                f"\n{run['config']}, seed {run['seed']}: {run['fid/classifier']:.2f} = "
                f"{run['fid/classifier'] / full[run['seed']]:.2f} x the full run's "
                f"{full[run['seed']]:.2f}"
            )
    for name in summary:
        seeds = sorted(
            (r["seed"], r) for r in runs if r["config"] == name and "fid/classifier" in r
        )
        if seeds:
            each = ", ".join(f"{r['fid/classifier']:.2f} (seed {s})" for s, r in seeds)
            print(f"\n{name}: fid/classifier {each}")


def _mean(row: dict, key: str, fmt: str) -> str:
    if row["runs"] == 1:
        return fmt.format(row[key])
    return f"{fmt.format(row[key])} ± {fmt.format(row[f'{key} std'])}"


def _remedies(r: dict) -> None:
    seeds = ", ".join(map(str, r["seeds"]))
    print(
        f"\nRemedies, {r['steps']} generator steps (the tuned settings: their own), mean over "
        f"seeds {seeds}.\n"
    )
    print("| setting | data | modes | high quality % | exact W1 | normalized | s per run |")
    print("|---|---|---|---|---|---|---|")
    for key, row in r["summary"].items():
        name, dist = key.rsplit(" ", 1)
        cells = [
            _or_dash(row.get("modes/captured"), "{:.1f}"),
            _or_dash(row.get("modes/hq_fraction"), "{:.1f}", 100),
            _or_dash(row.get("wasserstein/exact"), "{:.3f}"),
            _or_dash(row.get("wasserstein/normalized"), "{:.3f}"),
            _or_dash(row.get("seconds"), "{:.0f}"),
        ]
        note = f" ({row['diverged']} of {row['runs']} diverged)" if row["diverged"] else ""
        print(f"| {name}{note} | {dist} | {' | '.join(cells)} |")
    for dist, rows in r["published"].items():
        for name, (modes, hq) in rows.items():
            print(f"| *{name} (published)* | {dist} | {modes:.1f} | {hq:.1f} | | | |")
    for run in sorted(r["runs"], key=lambda x: (x["distribution"], x["seed"])):
        if "curve" in run:
            points = ", ".join(
                f"{p['seconds']:.0f} s: {p['modes/captured']:.0f} / {p['modes/hq_fraction']:.0%}"
                for p in {p["step"]: p for p in run["curve"]}.values()  # the last step once
            )
            print(f"\n{run['config']} seed {run['seed']} (modes / high quality): {points}")


def _or_dash(x: float | None, fmt: str, scale: float = 1.0) -> str:
    return "-" if x is None else fmt.format(x * scale)


if __name__ == "__main__":
    main()

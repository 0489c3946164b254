"""python -m bench [--quick] [--only startup overhead hardware pipeline memory quality
tracking stacked remedies conditional image_metrics architectures collapse images classifier
profile gpu data doctor generator]"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench.architectures import architectures
from bench.architectures import record as architectures_record
from bench.classifier import classifier
from bench.collapse import collapse
from bench.collapse import record as collapse_record
from bench.common import RESULTS, machine
from bench.conditional import conditional
from bench.data import data
from bench.doctor import doctor
from bench.doctor import figures as doctor_figures
from bench.doctor import record as doctor_record
from bench.generator import generator
from bench.gpu import gpu
from bench.image_metrics import SCALARS as SHOWN
from bench.image_metrics import image_metrics
from bench.images import images
from bench.images import record as images_record
from bench.overhead import hardware, overhead
from bench.pipeline import memory, pipeline
from bench.profile import VARIANTS, profile_step
from bench.quality import quality
from bench.remedies import remedies
from bench.stacked import stacked
from bench.startup import startup
from bench.tracking import ESTIMATES, tracking

PARTS = (
    "startup",
    "overhead",
    "hardware",
    "pipeline",
    "memory",
    "quality",
    "tracking",
    "stacked",
    "remedies",
    "conditional",
    "image_metrics",
    "architectures",
    "collapse",
    "images",
    "classifier",
    "profile",
    "gpu",
    "data",
    "doctor",
    "generator",
)
console = Console()


def main() -> None:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small budgets: under 5 minutes")
    parser.add_argument("--only", nargs="+", choices=PARTS, default=PARTS)
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (data, runs)")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="architectures, collapse, images: keep the jobs an earlier run left in --work, "
        "run only the rest",
    )
    parser.add_argument(
        "--record",
        action="store_true",
        help="architectures, collapse, images, doctor (the first of --only): record the jobs "
        "a stopped or running run finished in --work (marked partial), run nothing",
    )
    args = parser.parse_args()
    if args.record:  # what --reuse would keep, written down before a machine goes away
        part = args.only[0]
        part = part if part in ("collapse", "images", "doctor") else "architectures"
        path = RESULTS / f"{part}.json"
        before = json.loads(path.read_text()) if path.is_file() else {"machine": machine()}
        if part == "collapse":
            result = collapse_record(args.work)
            done = len(result["runs"])
        elif part == "images":
            result = images_record(args.work)
            done = len(result["runs"])
        elif part == "doctor":
            result = doctor_record(args.work)
            doctor_figures(args.work, RESULTS)
            done = len(result["zoo"]) + len(result["healthy"])
        else:
            result = architectures_record(args.work)
            done = len(result["random"]["jobs"])
        path.write_text(json.dumps({**before, "partial": True, "result": result}, indent=2))
        console.print(f"recorded {done} jobs -> {path}")
        return
    os.environ.setdefault("WANDB_SILENT", "true")  # the runs' W&B banners would bury the tables
    # quick runs are a smoke test: they never replace the committed full results
    results = RESULTS / "quick" if args.quick else RESULTS
    results.mkdir(parents=True, exist_ok=True)
    work = args.work or Path(tempfile.mkdtemp(prefix="gan-bench-"))
    about = {"machine": machine(), "quick": args.quick}
    console.print(f"machine: {about['machine']}")
    gan_train_rate = None
    for part in args.only:
        start = time.perf_counter()
        if part == "startup":
            result = startup(args.quick, work / "startup")
        elif part == "overhead":
            result = overhead(args.quick, work)
            gan_train_rate = result["dcgan cifar10 vanilla"]["gan_train_steps_per_s"][-1]
        elif part == "hardware":
            result = hardware(args.quick, work, gan_train_rate)
        elif part == "pipeline":
            result = pipeline(args.quick, work)
        elif part == "memory":
            result = memory(args.quick, work)
        elif part == "quality":
            result = quality(args.quick, work, results / "grid25.png")
        elif part == "tracking":
            result = tracking(args.quick, work)
        elif part == "stacked":
            result = stacked(args.quick, work)
        elif part == "remedies":
            result = remedies(args.quick, work)
        elif part == "conditional":
            result = conditional(args.quick, work)
        elif part == "image_metrics":
            result = image_metrics(args.quick, work)
        elif part == "architectures":
            result = architectures(args.quick, work, args.reuse)
        elif part == "collapse":
            result = collapse(args.quick, work, args.reuse)
        elif part == "images":
            result = images(args.quick, work, args.reuse)
        elif part == "classifier":
            result = classifier(args.quick, work)
        elif part == "profile":
            result = profile_step(args.quick, work)
        elif part == "data":
            result = data(args.quick, work)
        elif part == "doctor":
            result = doctor(args.quick, work)
            doctor_figures(work, results)
        elif part == "generator":
            result = generator(args.quick, work, results)
        else:
            result = gpu(args.quick, work)
        seconds = time.perf_counter() - start
        path = results / f"{part}.json"
        path.write_text(json.dumps({**about, "seconds": seconds, "result": result}, indent=2))
        show(part, result)
        console.print(f"[dim]{part}: {seconds:.0f} s -> {path}[/]")


def show(part: str, result: dict) -> None:
    if "skipped" in result:
        console.print(f"{part}: skipped: {result['skipped']}")
        return
    if part == "startup":
        table = _table("start-up (median of 3 fresh processes)", "command", "s", "before (s)")
        for name, r in result.items():
            before = r.get("before_s")
            table.add_row(name, f"{r['median_s']:.2f}", "-" if before is None else f"{before}")
    elif part == "doctor":
        table = _table("doctor: the zoo", "failure built in", "first finding", "after its remedy")
        for z in result["zoo"]:
            first = z["findings"][0] if z["findings"] else "none"
            after = ", ".join(z.get("after_findings", [])) or ("healthy" if "after" in z else "-")
            table.add_row(z["built"], first, after)
        for name, found in result["healthy"].items():
            table.add_row(f"healthy: {name}", ", ".join(found) or "none", "")
    elif part == "overhead":
        table = _table("loop overhead", "case", "gan-train steps/s", "bare steps/s", "ratio")
        for name, r in result.items():
            table.add_row(
                name,
                _f(max(r["gan_train_steps_per_s"])),
                _f(max(r["bare_steps_per_s"])),
                f"{r['ratio']:.3f}",
            )
    elif part == "hardware":
        table = _table(
            "DCGAN step, hardware use",
            "FLOPs/step",
            "steps/s",
            "GFLOP/s",
            "matmul peak GFLOP/s",
            "fraction",
        )
        table.add_row(
            f"{result['flops_per_step']:.3g}",
            _f(result["steps_per_s"]),
            _f(result["achieved_flops"] / 1e9),
            _f(result["matmul_peak_flops"] / 1e9),
            f"{result['fraction_of_peak']:.1%}",
        )
    elif part == "pipeline":
        table = _table(
            "data pipeline (batches of 64)",
            "data",
            "gan-cli batches/s",
            "DataLoader batches/s",
            "speed-up",
        )
        for name, r in result.items():
            table.add_row(
                name,
                _f(r["gan_cli_batches_per_s"]),
                _f(r["dataloader_batches_per_s"]),
                f"{r['speedup']:.1f}x",
            )
    elif part == "memory":
        table = _table("peak resident memory", "process", "MiB")
        for name, r in result.items():
            table.add_row(name, f"{r['peak_rss_mib']:.0f}")
    elif part == "quality":
        table = _table(
            f"toy quality after {result['steps']} steps, seeds {result['seeds']}",
            "loss",
            "data",
            "modes",
            "HQ %",
            "exact W1",
            "critic estimate",
            "s",
        )
        for key, r in result["summary"].items():
            name, dist = key.rsplit(" ", 1)
            if "modes/captured" not in r:
                table.add_row(
                    name,
                    dist,
                    f"diverged {r['diverged']}/{r['runs']}",
                    *"-" * 4,
                    f"{r['seconds']['mean']:.0f}",
                )
                continue
            note = f" ({r['diverged']}/{r['runs']} diverged)" if r["diverged"] else ""
            table.add_row(
                name,
                dist,
                _ms(r["modes/captured"], "{:.1f}") + note,
                _ms(r["modes/hq_fraction"], "{:.1f}", 100),
                _ms(r["wasserstein/exact"], "{:.3f}"),
                _ms(r["estimate"], "{:.3g}") if "estimate" in r else "-",
                f"{r['seconds']['mean']:.0f}" if "seconds" in r else "-",
            )
    elif part == "tracking":
        table = _table(
            f"estimate against exact W1 over {result['steps']} steps (every "
            f"{result['eval_every']}), seeds {result['seeds']}: Spearman / end ratio",
            "loss",
            "data",
            "exact W1 at end",
            *ESTIMATES,
        )
        for key, r in result["summary"].items():
            name, dist = key.rsplit(" ", 1)
            cells = [
                f"{_f_or_dash(r[k]['spearman'], '{:.2f}')} / {r[k]['end_ratio']:.2f}"
                for k in ESTIMATES
            ]
            table.add_row(name, dist, f"{r['exact_end']:.3f}", *cells)
    elif part == "remedies":
        table = _table(
            f"mode-collapse remedies: {result['steps']} steps (tuned: their own), "
            f"seeds {result['seeds']}",
            "setting",
            "data",
            "modes",
            "HQ %",
            "exact W1",
            "normalized",
            "s",
        )
        for key, r in result["summary"].items():
            name, dist = key.rsplit(" ", 1)
            note = f" ({r['diverged']}/{r['runs']} diverged)" if r["diverged"] else ""
            hq = r.get("modes/hq_fraction")
            table.add_row(
                name,
                dist,
                _f_or_dash(r.get("modes/captured"), "{:.1f}") + note,
                _f_or_dash(None if hq is None else 100 * hq, "{:.1f}"),
                _f_or_dash(r.get("wasserstein/exact"), "{:.3f}"),
                _f_or_dash(r.get("wasserstein/normalized"), "{:.3f}"),
                _f_or_dash(r.get("seconds"), "{:.0f}"),
            )
        for dist, rows in result["published"].items():
            for name, (modes, hq) in rows.items():
                table.add_row(f"{name} (published)", dist, f"{modes:.1f}", f"{hq:.1f}", *"-" * 3)
    elif part == "collapse":
        table = _table(
            f"ALI, VEEGAN, AdaGAN: seeds {result['seeds']} (Stacked MNIST: seed 0)",
            "method",
            "data",
            "modes",
            "HQ % / KL",
            "exact W1",
            "all modes at round",
            "CPU s",
        )
        for key, r in result["summary"].items():
            name, data = key.rsplit(" ", 1)
            hq, kl = r.get("modes/hq_fraction"), r.get("modes/kl")
            table.add_row(
                name,
                data,
                _f_or_dash(r.get("modes/captured"), "{:.1f}"),
                f"{100 * hq:.1f}" if hq is not None else _f_or_dash(kl, "{:.2f}"),
                _f_or_dash(r.get("wasserstein/exact"), "{:.3f}"),
                ", ".join("-" if t is None else str(t) for t in r.get("all_modes_round", [])),
                _f_or_dash(r.get("cpu_seconds"), "{:.0f}"),
            )
        for data, rows in result["published"].items():
            for name, (modes, second) in rows.items():
                table.add_row(f"{name} (published)", data, f"{modes:.1f}", f"{second}", *"-" * 3)
    elif part == "profile":
        split = result["default"]["split"]
        table = _table(
            f"DCGAN step on CPU ({result['threads']} threads): "
            + ", ".join(f"{k} {v:.0%}" for k, v in split.items()),
            "variant",
            "s/step",
            "GFLOP/s",
            "of fp32 matmul peak",
        )
        for name, *_ in VARIANTS:
            r = result[name]
            table.add_row(
                name,
                f"{r['s_per_step']:.3f}",
                f"{r['gflop_per_s']:.0f}",
                f"{r['fraction_of_peak']:.2f}",
            )
    elif part == "data":
        _show_data(result)
        return
    elif part == "generator":
        table = _table(
            f"projection of {result['targets']} targets, gan-sample's defaults",
            "run",
            "targets",
            "median distance / random pair",
            "within a tenth",
            "s per target",
        )
        for name, r in result.items():
            for kind, q in r.get("projection", {}).items() if isinstance(r, dict) else ():
                if isinstance(q, dict):
                    table.add_row(
                        name,
                        kind,
                        f"{q['median_ratio']:.3f}",
                        f"{q['share_within_tenth']:.0%}",
                        f"{q['seconds_per_target']:.2f}",
                    )
    elif part == "classifier":
        table = _table(
            f"the domain classifier's first training ({result['steps']} batches of 128)",
            "data",
            "images",
            "train s",
            "test s",
            "test accuracy",
        )
        for name, r in result.items():
            if isinstance(r, dict):
                table.add_row(
                    name,
                    str(r["images"]),
                    f"{r['train_s']:.1f}",
                    f"{r['test_s']:.1f}",
                    f"{r['test_accuracy']:.2%}",
                )
    elif part == "images":
        table = _table(
            f"Fashion-MNIST recipes (classifier accuracy {result['classifier_accuracy']:.1%}): "
            "means over seeds, the real data's floor in brackets",
            "recipe",
            "runs",
            "fid/classifier",
            "x floor",
            "coverage",
            "classes/score",
            "CPU min",
        )
        for name, r in result["summary"].items():
            table.add_row(
                name,
                str(r["runs"]),
                f"{r['fid/classifier']:.2f} ({r.get('floor/fid/classifier', float('nan')):.2f})",
                _f_or_dash(r.get("fid/classifier over floor"), "{:.1f}"),
                _f_or_dash(r.get("prdc/coverage"), "{:.3f}"),
                _f_or_dash(r.get("classes/score"), "{:.2f}"),
                _f_or_dash(r.get("cpu_seconds", 0) / 60, "{:.1f}"),
            )
    elif part == "stacked":
        table = _table(
            f"Stacked MNIST ({result['base']} digits, classifier accuracy "
            f"{result['classifier_accuracy']:.1%}), {result['steps']} steps, "
            f"{result['samples']} samples",
            "model",
            "seed",
            "modes (of 1000)",
            "KL",
            "s",
        )
        for r in result["runs"]:
            table.add_row(
                r["config"],
                str(r["seed"]),
                f"{r['modes/captured']:.0f}",
                f"{r['modes/kl']:.2f}",
                f"{r['seconds']:.0f}",
            )
        for name, r in result["published"].items():
            table.add_row(name, "-", f"{r['modes/captured']:.0f}", f"{r['modes/kl']:.2f}", "-")
    elif part == "conditional":
        table = _table(
            f"conditional against unconditional DCGAN, Fashion-MNIST, {result['steps']} "
            f"steps (classifier accuracy {result['classifier_accuracy']:.1%})",
            "model",
            "seed",
            "fid/classifier",
            "coverage",
            "classes/accuracy",
            "per-class FID (worst)",
            "s",
        )
        for r in result["runs"]:
            worst = r.get("fid/classifier_worst_class")
            per_class = "-"
            if worst is not None:
                per_class = f"{r['fid/classifier_per_class']:.1f} ({worst})"
            table.add_row(
                r["config"],
                str(r["seed"]),
                f"{r['fid/classifier']:.1f}",
                f"{r['prdc/coverage']:.3f}",
                _f_or_dash(r.get("classes/accuracy"), "{:.3f}"),
                per_class,
                f"{r['seconds']:.0f}",
            )
    elif part == "image_metrics":
        table = _table(
            f"image metrics of one DCGAN run, Fashion-MNIST, {result['steps']} steps",
            "step",
            *SHOWN,
        )
        for r in [*result["evaluations"], {"step": "floor", **result["floor"]}]:
            table.add_row(str(r["step"]), *(f"{r[k]:.3g}" for k in SHOWN))
    elif part == "architectures":
        _show_architectures(result)
        return
    else:
        table = _table("GPU throughput", "model", "loss", "precision", "compile", "images/s")
        for r in result["throughput"]:
            table.add_row(
                r["model"], r["loss"], r["precision"], str(r["compile"]), _f(r["images_per_s"])
            )
        show("overhead", result["overhead"])
    console.print(table)


def _show_architectures(result: dict) -> None:
    v, r = result["variants"], result["random"]
    losses = [c for c in v["scores"][0] if c != "+arch"]
    table = _table(
        f"classes/score of {len(v['scores'])} variants, {result['steps']} steps "
        "(samples: architectures.png)",
        "+arch",
        *losses,
    )
    for row in v["scores"]:
        table.add_row(row["+arch"], *[_f_or_dash(_number(row[c]), "{:.2f}") for c in losses])
    console.print(table)
    table = _table("resnet101: its steps/s, timed over a few steps", "loss", "steps/s")
    for job in result["resnet101"]["jobs"]:
        table.add_row(job["loss"], _f_or_dash(job.get("time/steps_per_s"), "{:.3f}"))
    console.print(table)
    columns = list(r["table"][0])
    table = _table(
        f"{len(r['jobs']) // 2} random architectures x vanilla, wgan_gp, "
        f"{result['random_steps']} steps; the paper's 200 in brackets "
        f"({r['seconds_per_job']:.0f} s a job; 400 jobs: {r['full_study_cpu_hours']:.1f} "
        f"CPU-hours, at the paper's 200k steps {r['paper_budget_cpu_hours']:.0f})",
        *columns,
    )
    for ours, paper in zip(r["table"], result["random"]["paper_table"], strict=True):
        cells = [f"{ours['threshold']:.3f}"] + [f"{ours[c]} ({paper[c]})" for c in columns[1:]]
        table.add_row(*cells)
    console.print(table)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _show_data(result: dict) -> None:
    table = _table(
        f"first decode of {result['images']} {result['photo']}s (images/s)",
        "side",
        "gan-cli pack",
        "ImageFolder + DataLoader (2 workers)",
        "speed-up",
    )
    for side, r in result["first_decode"].items():
        table.add_row(
            side,
            _f(r["gan_cli_images_per_s"]),
            _f(r["dataloader_images_per_s"]),
            f"{r['speedup']:.1f}x",
        )
    console.print(table)
    b = result["batches_64px"]
    table = _table("batches of 64 at 64 pixels per second", "pack", "tensor", "DataLoader")
    table.add_row(_f(b["packed"]), _f(b["in_memory"]), _f(b["dataloader"]))
    console.print(table)
    m = result["memory"]
    limit = m["memory_limit_gib"]
    table = _table(
        f"gan-train on a {m['pack_gib']:.1f} GiB pack ({m['images']} images at {m['side']}px), "
        f"{m['steps']} steps, " + (f"memory limited to {limit} GiB" if limit else "no limit"),
        "exit code",
        "peak RSS (GiB)",
        "run s",
    )
    table.add_row(str(m["exit_code"]), f"{m['peak_rss_gib']:.2f}", f"{m['run_s']:.0f}")
    console.print(table)
    table = _table(
        "a training step by side (batch 16)",
        "model side precision",
        "s/step",
        "GFLOP/step",
        "peak RSS MiB",
    )
    for name, r in result["step_cost"].items():
        table.add_row(
            name, f"{r['s_per_step']:.3f}", f"{r['gflop_per_step']:.1f}", f"{r['peak_rss_mib']:.0f}"
        )
    console.print(table)


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left")
    for c in columns:
        table.add_column(c, justify="right")
    return table


def _f(x: float) -> str:
    return f"{x:,.1f}" if x < 1000 else f"{x:,.0f}"


def _f_or_dash(x: float | None, fmt: str) -> str:
    return "-" if x is None else fmt.format(x)


def _ms(stat: dict, fmt: str, scale: float = 1) -> str:
    return f"{fmt.format(stat['mean'] * scale)}±{fmt.format(stat['std'] * scale)}"


if __name__ == "__main__":
    main()

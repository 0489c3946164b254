"""README.md is the front door and the manual (docs/) says what the code does: its
generated pages are what the code generates now, its reference lists every key of every
composed config with its default, and its words are about the project only."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from bench.report import MARK, PAGES_DIR, TABLES
from docgen.__main__ import DOCS, generated
from docgen.reference import flatten, show
from gan_cli import metrics
from gan_cli.config.compose import compose_config, config_dir, config_groups

ROOT = Path(__file__).parents[1]
MANUAL = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


@pytest.fixture(scope="module")
def pages() -> dict[str, str]:
    return generated()


def test_every_generated_page_is_what_the_code_generates_now(pages):
    stale = [p for p, text in pages.items() if (DOCS / p).read_text() != text]
    assert not stale, f"run `python -m docgen` and commit: {stale}"


def _row(page: str, key: str) -> str:
    rows = [line for line in page.splitlines() if line.startswith(f"| `{key}` |")]
    assert len(rows) == 1, f"{key}: {len(rows)} rows on the page"
    return rows[0]


def _configs() -> dict[str, list[str]]:
    """The default config and each option of model, loss, data and +boost."""
    groups = config_groups()
    out = {"default": []}
    for group in ("model", "loss", "data"):
        out |= {f"{group}={o}": [f"{group}={o}"] for o in groups[group]}
    out["+boost=adagan"] = ["+boost=adagan"]
    return out


@functools.cache
def _values(overrides: tuple[str, ...] = ()) -> dict[str, str]:
    """What `gan-train OVERRIDES --cfg job` prints, flattened to key: value as typed."""
    printed = OmegaConf.to_container(compose_config(list(overrides)), resolve=False)
    return {k: show(v) for k, v in flatten(printed).items()}


@pytest.mark.parametrize("name", list(_configs()))
def test_the_reference_lists_every_key_with_its_default(name, pages):
    page = pages["reference/config.md"]
    for key, value in _values(tuple(_configs()[name])).items():
        row = _row(page, key).replace("\\|", "|")
        cells = row.split(" | ")  # key, allowed, default, meaning; or key, reads (wiring)
        assert f"`{value}`" in cells[2 if len(cells) == 4 else 1], (key, value)
        if name != "default" and value != _values().get(key):
            assert f"`{name}`" in row, (key, value, name)


EXPERIMENTS = sorted(p.stem for p in (Path(config_dir()) / "experiment").glob("*.yaml"))


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_the_groups_page_lists_what_each_experiment_sets(name, pages):
    """Every key an experiment composes is on the keys page; each value it changes from
    the default config is in its table on the groups page."""
    keys, groups = pages["reference/config.md"], pages["reference/groups.md"]
    section = groups.split(f"### `+experiment={name}`")[1].split("\n### ")[0]
    base = _values()
    for key, value in _values((f"+experiment={name}",)).items():
        _row(keys, key)
        if base.get(key) != value:
            assert f"| `{key}` | `{value}` |" in section.replace("\\|", "|"), (key, value)


def test_every_key_has_a_meaning_and_allowed_values(pages):
    for line in pages["reference/config.md"].splitlines():
        if line.startswith("| `") and line.count(" | ") == 3:
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            assert all(cells), line


def test_the_scalars_page_names_every_scalar_a_metric_logs():
    page = (DOCS / "reference" / "scalars.md").read_text()
    for name, metric in metrics.REGISTRY.items():
        for key in metric.keys:
            assert f"`{key}`" in page, (name, key)


def test_the_scalars_page_names_every_scalar_of_a_real_run(tmp_path, monkeypatch):
    """A short run's metrics.jsonl against the page: the loop's own scalars too."""
    from gan_cli.cli import gan_train as train

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(
        "sys.argv", ["gan-train", "logger=none", "trainer.steps=2", "hydra.run.dir=r"]
    )
    train.main()
    page = (DOCS / "reference" / "scalars.md").read_text()
    logged = {
        k
        for line in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()
        for k in json.loads(line)
    }
    missing = [k for k in sorted(logged - {"step"}) if f"`{k}`" not in page]
    assert not missing


def test_readme_is_a_front_door():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    for command in ("make train", "make test"):
        assert command in readme
    for link in re.findall(r"\]\(((?:docs|bench)/[^)#]+)", readme):
        assert (ROOT / link).exists(), link


def test_no_words_about_the_projects_own_history():
    for path in MANUAL:
        text = path.read_text()
        assert not re.search(r"issue [0-9]+", text, re.I), path
        assert not re.search(r"before this change|after this change", text, re.I), path


def test_every_table_of_the_report_stands_on_a_results_page():
    """(tutorial.json is Getting started's record, docgen.tutorial's, not a benchmark's.)"""
    named = {m[2] for page in PAGES_DIR.glob("*.md") for m in MARK.finditer(page.read_text())}
    assert set(TABLES) <= named, set(TABLES) - named
    parts = {p.stem for p in (ROOT / "bench" / "results").glob("*.json")} - {"tutorial"}
    abouts = {
        m[2] for page in PAGES_DIR.glob("*.md") for m in MARK.finditer(page.read_text()) if m[1]
    }
    assert parts <= abouts, parts - abouts


def test_every_file_the_architecture_page_names_exists():
    text = (DOCS / "architecture.md").read_text()
    for path in re.findall(r"`((?:gan_cli|conf|tests)/[\w/.]+)`", text):
        assert (ROOT / path).exists(), path


def test_every_checkpoint_key_is_on_the_run_folder_page(tmp_path, monkeypatch):
    import torch

    from gan_cli.cli import gan_train as train

    monkeypatch.chdir(tmp_path)
    argv = [
        "gan-train",
        "logger=none",
        "trainer.steps=1",
        "trainer.ema_decay=0.5",
        "hydra.run.dir=r",
    ]
    monkeypatch.setattr("sys.argv", argv)
    train.main()
    state = torch.load(tmp_path / "r" / "checkpoints" / "last.pt", weights_only=True)
    page = (DOCS / "reference" / "run-folder.md").read_text()
    assert not [k for k in state if f"`{k}`" not in page]


# --- reading ------------------------------------------------------------------------------

FENCE = re.compile(r"^```.*?^```", re.M | re.S)


def _generated_reference(text: str) -> bool:
    """A page the code writes whole (the reference tables from conf/ and the code)."""
    return "<!-- generated by `python -m docgen` from the code" in text[:400]


def test_extras_are_installed_from_the_source_checkout():
    """gan-cli is not published: `pip install 'gan-cli[...]'` cannot work anywhere."""
    published = "pip install " + "'gan-cli["
    for path in [*MANUAL, *ROOT.glob("gan_cli/**/*.py"), *ROOT.glob("conf/**/*.yaml")]:
        text = path.read_text()
        assert published not in text and "pip install gan-cli[" not in text, path


def test_no_table_cell_is_longer_than_200_characters():
    """Detail goes below a table, where it wraps; the code's reference tables excepted."""
    for path in MANUAL:
        text = path.read_text()
        if _generated_reference(text):
            continue
        for line in FENCE.sub("", text).splitlines():
            if line.startswith("|"):
                for cell in re.split(r"(?<!\\)\|", line)[1:-1]:
                    assert len(cell.strip()) <= 200, f"{path.name}: {cell.strip()[:80]}..."


def _paragraphs(path: Path):
    for paragraph in re.split(r"\n\s*\n", FENCE.sub("", path.read_text())):
        if paragraph.lstrip().startswith(("|", "<!--", "#")):
            continue
        words = re.findall(r"[\w'/.-]+", paragraph.lower())
        if len(words) >= 40:
            yield paragraph, {tuple(words[i : i + 8]) for i in range(len(words) - 7)}


def test_no_paragraph_is_repeated_on_two_pages():
    """A paragraph has one home, which the other pages link to: two paragraphs of 40
    words or more on different pages share less than a third of their 8-word runs."""
    seen = [(path, text, runs) for path in MANUAL for text, runs in _paragraphs(path)]
    for i, (path_a, text_a, a) in enumerate(seen):
        for path_b, _, b in seen[i + 1 :]:
            if path_a != path_b:
                shared = len(a & b) / min(len(a), len(b))
                assert shared < 1 / 3, f"{path_a.name} and {path_b.name}: {text_a[:100]}"


def test_the_groups_are_written_one_way_and_internal_ones_are_not_listed(pages):
    groups = pages["reference/groups.md"]
    for internal in ("data_loss", "model/reconstructor", "model.reconstructor"):
        assert f"`{internal}`" not in groups
    for path in MANUAL:
        assert not re.search(r"\bmodel/(generator|discriminator)=", path.read_text()), path
    for nested in ("model.generator", "loss.objective"):
        assert f"| `{nested}` |" in groups
    run = compose_config(["model=dcgan", "model.generator=mlp", "+model.hidden_dim=8"])
    assert run.model.generator._target_.endswith("mlp.Generator")


@pytest.mark.slow  # the tutorial's commands at a few steps, twice
def test_getting_started_shows_only_lines_the_code_prints(monkeypatch):
    """docgen --check's replay: every line Getting started shows is printed by the code
    now; change one printed line and the check names it."""
    from docgen import tutorial
    from gan_cli.cli import launch

    assert tutorial.replay() == []
    print_summary = launch.print_summary

    def renamed(metrics, run_dir):
        with monkeypatch.context() as m:
            m.setattr(launch.console, "print", _renaming(launch.console.print))
            print_summary(metrics, run_dir)

    monkeypatch.setattr(launch, "print_summary", renamed)
    missing = tutorial.replay()
    assert missing and all("run folder:" in line for line in missing), missing


def _renaming(print_):
    def changed(text, *args, **kwargs):
        return print_(str(text).replace("run folder:", "run directory:"), *args, **kwargs)

    return changed

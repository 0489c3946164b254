"""The clusters guide's recipe, end to end, as its commands are shown and in their order:
the images packed once on the "login node", the sweep sent through submitit (its local
launcher in place of SLURM, each SLURM-only key checked against the SLURM launcher's
config, then left out), then gan-doctor and gan-plot on the sweep's folder, every path
under a stand-in for the cluster's shared filesystem."""

from __future__ import annotations

import csv
import json
import re
import shlex
import shutil
import subprocess

import pytest

from tests import doc_pages
from tests.helpers import BIN, clean_env
from tests.test_doc_runs import SHARED, Context, budget

GUIDE = doc_pages.ROOT / "docs" / "guides" / "clusters.md"
RECIPE = re.compile(r"<!-- recipe[^>]*-->(.*?)<!-- /recipe -->", re.S)


def recipe() -> list[str]:
    found = RECIPE.search(GUIDE.read_text())
    assert found, f"{GUIDE.name} marks no recipe"
    return [shown.command for shown in doc_pages.commands_in(found[1])]


def test_the_guide_has_the_recipe():
    programs = [c.split()[0] for c in recipe()]
    assert programs == ["gan-data", "gan-train", "gan-doctor", "gan-plot"]
    train = recipe()[1]
    for key in ("account", "qos", "mem_gb", "timeout_min", "max_num_timeout", "setup"):
        assert f"hydra.launcher.{key}=" in train, key
    assert "trainer.resume=auto" in train and "hydra/launcher=submitit_slurm" in train


@pytest.mark.slow
def test_the_cluster_recipe_runs_end_to_end(tmp_path, image_root, inception_weights):
    shared, login = tmp_path / "shared", tmp_path / "login"
    login.mkdir()
    shutil.copytree(image_root / "folder", shared / "photos")
    env = clean_env(XDG_CACHE_HOME=str(tmp_path / "cache"), WANDB_MODE="offline")
    sweep = shared / "sweeps" / "photos"
    for command in recipe():
        program, *args = shlex.split(command.replace(SHARED, str(shared)))
        if program == "gan-train":
            args = budget(args, login, Context(image_root, inception_weights, {}))
            assert "hydra/launcher=submitit_local" in args
        done = subprocess.run(
            [str(BIN / program), *args], cwd=login, env=env, capture_output=True, text=True
        )
        output = done.stdout + done.stderr
        findings = program == "gan-doctor" and done.returncode == 1
        assert done.returncode == 0 or findings, f"{program} {shlex.join(args)}\n{output}"
        if program == "gan-data":
            assert list((shared / "packs").glob("photos-64px-*/*")), output
        elif program == "gan-train":
            jobs = sorted(p.parent for p in sweep.glob("*/status.json"))
            assert len(jobs) == 2, output
            for job in jobs:
                assert json.loads((job / "status.json").read_text())["status"] == "ok"
                assert (job / "checkpoints" / "last.pt").is_file()
                assert "packed " not in (job / "train.log").read_text()  # read the login's pack
            assert list((sweep / ".submitit").iterdir()), "the jobs went through submitit"
            with open(sweep / "summary.csv") as f:
                assert [row["status"] for row in csv.DictReader(f)] == ["ok", "ok"]
        elif program == "gan-doctor":
            assert all(job.name in output for job in jobs), output
        else:
            assert (sweep / "plot.png").is_file() and (sweep / "plot.pdf").is_file(), output

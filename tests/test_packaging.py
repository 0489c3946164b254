"""The configs ship with the package: a wheel-installed gan-train finds them anywhere."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # a wheel built and installed: with the slow tests
def test_wheel_install_finds_its_configs(tmp_path):
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    subprocess.run(
        [
            *pip,
            "wheel",
            str(ROOT),
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path / "dist"),
        ],
        check=True,
        timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("gan_cli-*.whl")
    target = tmp_path / "site"
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)], check=True)
    assert (target / "gan_cli" / "conf" / "train.yaml").is_file()

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(target)}  # the wheel's gan_cli shadows the checkout's
    result = subprocess.run(
        [str(target / "bin" / "gan-train"), "--cfg", "job", "loss=vanilla"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "distribution: ring8" in result.stdout
    assert "gan_cli.losses.minimax.Minimax" in result.stdout
    where = subprocess.run(
        [sys.executable, "-c", "import gan_cli.config.compose as c; print(c.config_dir())"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.strip() == str(target / "gan_cli" / "conf")
    assert list(elsewhere.iterdir()) == []  # --cfg job starts no run

"""``lrscope policies``: list, values, plot, errors, and the light ``import lrscope``."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

import lrscope
from lrscope.cli.app import app
from lrscope.policies import policy_names

runner = CliRunner()


def invoke(*args: str) -> Result:
    return runner.invoke(app, ["policies", *args])


def tri2_reference(t: int, k0: float, k1: float, l: int) -> float:  # noqa: E741
    """docs/policies.md's TRI2, written out independently of the library."""
    x = t % (2 * l)
    tri = x / l if x <= l else 2 - x / l
    return k0 + (k1 - k0) * tri / 2.0 ** math.floor(t / (2 * l))


def test_acceptance_values_json_matches_policies_md() -> None:
    result = invoke("values", "TRI2(k0=0.001, k1=0.006, l=2000)", "--steps", "10000", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["spec"] == "TRI2(k0=0.001, k1=0.006, l=2000)"
    assert document["momentum"] is None
    lrs = document["lr"]
    assert len(lrs) == 10000
    for t, lr in enumerate(lrs):
        assert lr == pytest.approx(tri2_reference(t, 0.001, 0.006, 2000), rel=1e-12, abs=0.0)


def test_acceptance_bad_k1_exits_2_with_one_line_naming_k1() -> None:
    result = invoke("values", "TRI2(k0=0.001, k1=0.0001, l=10)", "--steps", "5")
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "'k1' parameter of TRI2" in lines[0]
    assert "k0=0.001" in lines[0]
    assert "0.0001" in lines[0]


@pytest.mark.parametrize("steps", ["0", "-3"])
def test_steps_must_be_at_least_one(steps: str) -> None:
    result = invoke("values", "FIX(k0=0.1)", "--steps", steps)
    assert result.exit_code == 2
    assert "The '--steps' parameter of lrscope policies values" in result.stderr
    assert "an int in the range [1, 1000000]" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_unknown_policy_exits_2_listing_the_valid_names() -> None:
    result = invoke("values", "TRI3(k0=1, k1=2, l=3)", "--json")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "unknown policy 'TRI3'" in result.stderr
    assert "TRI2" in result.stderr
    assert "position 0" in result.stderr


def test_values_with_momentum_and_default_horizon() -> None:
    result = invoke("values", "onecycle(max_lr=0.1, total_steps=50)", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert len(document["lr"]) == 50  # the default horizon of onecycle is total_steps
    assert document["momentum"][0] == pytest.approx(0.95, rel=1e-12)
    assert max(document["lr"]) == pytest.approx(0.1, rel=1e-12)


def test_values_human_summary() -> None:
    result = invoke("values", "COS(k0=0.001, k1=0.1, l=100)", "--steps", "201")
    assert result.exit_code == 0, result.output
    assert "COS(k0=0.001, k1=0.1, l=100)" in result.stdout
    assert "min 0.001 at t=100" in result.stdout
    assert "max 0.1 at t=0" in result.stdout


def test_list_json_has_every_policy() -> None:
    result = invoke("list", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [row["name"] for row in rows] == policy_names()
    by_name = {row["name"]: row for row in rows}
    assert by_name["TRI2"]["n_params"] == "3"
    assert by_name["NSTEP"]["n_params"] == "2+n"
    assert by_name["POLY"]["n_params"] == "3 (+1 optional)"
    assert by_name["TRI2"]["family"] == "cyclic"
    l_param = by_name["TRI2"]["parameters"][2]
    assert l_param == {
        "name": "l",
        "allowed": "an int in the range [1, inf)",
        "required": True,
        "default": None,
    }


def test_list_human_table() -> None:
    result = invoke("list")
    assert result.exit_code == 0, result.output
    for name in ("TRI2", "onecycle_smith", "piecewise", "sgdr"):
        assert name in result.stdout


def test_plot_writes_a_png(tmp_path: Path) -> None:
    out = tmp_path / "curves.png"
    result = invoke(
        "plot",
        "TRI2(k0=0.001, k1=0.006, l=20)",
        "onecycle_smith(max_lr=0.1, total_steps=100)",
        "-o",
        str(out),
        "--steps",
        "120",
        "--json",
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["path"] == str(out)
    assert len(document["specs"]) == 2
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_rejects_an_unknown_format_and_a_file_as_directory(tmp_path: Path) -> None:
    result = invoke("plot", "FIX(k0=0.1)", "-o", str(tmp_path / "x.bmpx"))
    assert result.exit_code == 2
    assert ".png" in result.stderr
    (tmp_path / "file").write_text("not a directory")
    result = invoke("plot", "FIX(k0=0.1)", "-o", str(tmp_path / "file" / "x.png"))
    assert result.exit_code == 2
    assert "is a file, not a directory" in result.stderr


def test_plot_creates_missing_directories(tmp_path: Path) -> None:
    out = tmp_path / "new" / "dir" / "x.png"
    result = invoke("plot", "FIX(k0=0.1)", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_import_lrscope_loads_no_heavy_module() -> None:
    src = str(Path(lrscope.__file__).resolve().parents[1])
    code = (
        "import sys, lrscope, lrscope.policies, lrscope.cli.policies\n"
        "p = lrscope.parse('TRI2(k0=0.001, k1=0.006, l=2000)'); p.values(10)\n"
        "heavy = [m for m in ('torch', 'matplotlib', 'ray', 'optuna') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr

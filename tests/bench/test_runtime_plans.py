"""A plan's runtime (device, precision, accumulation) reaches every worker and every key."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from lrscope.bench import Execution, Plan, run_plan
from lrscope.bench.plan import load_plan
from lrscope.bench.worker import TrialConfig, run_group
from lrscope.engine import Runtime
from lrscope.errors import ParameterError
from lrscope.store import Store

HERE = Path(__file__).resolve().parent
TINY = f"{HERE / 'tiny_task.py'}:make_task"


def test_a_plan_carries_its_runtime_into_every_key(tmp_path: Path) -> None:
    plan = Plan(TINY, ["FIX(k0=0.05)"], steps=12, precision="BF16", grad_accum_steps=2)
    assert plan.runtime == Runtime(precision="bf16", grad_accum_steps=2)
    (key,) = plan.keys("tiny-blobs", steps_per_epoch=6)
    assert (key.runtime, key.eval_every) == ("bf16,accum=2", 3)  # 6 micro-batches: 3 steps
    assert plan.to_dict()["precision"] == "bf16"
    path = tmp_path / "plan.toml"
    path.write_text(
        f'task = "{TINY}"\npolicies = ["FIX(k0=0.05)"]\nsteps = 12\n'
        'device = "cpu"\nprecision = "fp16"\ngrad_accum_steps = 3\n'
    )
    loaded = load_plan(path, precision="bf16")
    assert (loaded.device, loaded.precision, loaded.grad_accum_steps) == ("cpu", "bf16", 3)
    with pytest.raises(ParameterError, match="'precision' parameter of the benchmark plan"):
        Plan(TINY, ["FIX(k0=0.05)"], precision="fp8")


def test_workers_train_on_the_configs_runtime_one_by_one(caplog: pytest.LogCaptureFixture) -> None:
    configs = [
        TrialConfig("tiny-blobs", TINY, None, "FIX(k0=0.05)", seed, 12, 6, "cpu", "bf16", 2)
        for seed in (0, 1)
    ]
    with caplog.at_level(logging.INFO, logger="lrscope.bench.worker"):
        outcomes = run_group(configs)  # a group of two, but bf16 does not batch
    assert "precision bf16 (batched trials run in fp32)" in caplog.text
    for config, outcome in zip(configs, outcomes, strict=True):
        assert outcome.result is not None
        assert outcome.result["runtime"] == config.key.runtime == "bf16,accum=2"
    assert outcomes[0].result != outcomes[1].result


def test_run_plan_stores_each_runtimes_trials_apart(tmp_path: Path) -> None:
    specs = ["FIX(k0=0.05)", "FIX(k0=0.1)"]
    with Store.open(f"sqlite:///{tmp_path / 'r.db'}") as store:
        plain = run_plan(Plan(TINY, specs, steps=12), store, Execution("local"))
        half = Plan(TINY, specs, steps=12, precision="bf16")
        summary = run_plan(half, store, Execution("process", workers=2, batch_trials=2))
        again = run_plan(half, store, Execution("local"))
        records = store.trials("tiny-blobs")
    assert (plain.ran, summary.ran, summary.failed) == (2, 2, 0)
    assert (again.ran, again.skipped) == (0, 2)  # resumed: the bf16 trials are stored
    by_runtime = {(r.spec, r.runtime): r.to_result() for r in records}
    assert sorted(by_runtime) == sorted((spec, rt) for spec in specs for rt in ("", "bf16"))
    for spec in specs:
        assert by_runtime[(spec, "bf16")].runtime == "bf16"
        assert by_runtime[(spec, "bf16")].curve != by_runtime[(spec, "")].curve

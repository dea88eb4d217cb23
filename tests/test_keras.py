"""lrscope.keras.PolicySchedule under Keras 3 with the torch backend."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "torch")

import json
import subprocess
import sys
from typing import Any

import keras
import numpy as np
import pytest
import torch

from lrscope.errors import LRScopeWarning, ParameterError, SpecError
from lrscope.keras import PolicySchedule
from lrscope.policies import parse

SPEC = "TRI2(k0=0.001, k1=0.01, l=3)"
ONECYCLE_NO_MOMENTUM = "onecycle(max_lr=0.05, total_steps=10, cycle_momentum=false)"

# Keras' torch backend converts torch tensors with np.array(x), which numpy 2 flags
# (and then handles) inside model.fit; that is keras' business, not lrscope's.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)


def test_backend_is_torch() -> None:
    assert keras.backend.backend() == "torch"


def test_is_a_schedule_and_follows_the_policy_for_any_step_type() -> None:
    schedule = PolicySchedule(SPEC)
    policy = parse(SPEC)
    assert isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule)
    assert schedule.spec == policy.spec
    for t in range(15):
        expected = policy(t)
        assert schedule(t) == expected
        assert schedule(np.int64(t)) == expected
        assert schedule(torch.tensor(t)) == expected
        assert schedule(keras.ops.convert_to_tensor(t, dtype="int64")) == expected
        assert schedule(keras.Variable(t, dtype="int64", trainable=False)) == expected
        assert schedule(keras.ops.convert_to_tensor(float(t))) == expected
    assert PolicySchedule(policy)(4) == policy(4)


def test_config_round_trips() -> None:
    schedule = PolicySchedule("tri2(l=3, k1=1e-2, k0=1e-3)")
    config = schedule.get_config()
    assert config == {"spec": parse(SPEC).spec}
    json.dumps(config)
    again = PolicySchedule.from_config(config)
    assert again.policy == schedule.policy
    with pytest.raises(ParameterError, match="spec"):
        PolicySchedule.from_config({"policy": SPEC})


def test_keras_serialize_deserialize_round_trip() -> None:
    schedule = PolicySchedule(ONECYCLE_NO_MOMENTUM)
    serialized = keras.optimizers.schedules.serialize(schedule)
    json.dumps(serialized)
    assert serialized["registered_name"] == "lrscope>PolicySchedule"
    restored = keras.optimizers.schedules.deserialize(serialized)
    assert isinstance(restored, PolicySchedule)
    assert restored.policy == schedule.policy
    # an optimizer holding the schedule survives its own serialization
    optimizer = keras.optimizers.SGD(learning_rate=schedule)
    clone = keras.optimizers.deserialize(keras.optimizers.serialize(optimizer))
    assert float(clone.learning_rate) == schedule.policy(0)


def test_bad_inputs_raise_lrscope_errors() -> None:
    with pytest.raises(SpecError):
        PolicySchedule("NOPE(k0=1)")
    with pytest.raises(ParameterError, match="a Policy or a spec string"):
        PolicySchedule(0.1)  # type: ignore[arg-type]
    with pytest.raises(ParameterError):
        PolicySchedule(SPEC)(-1)


def test_momentum_policies_warn_that_keras_ignores_momentum() -> None:
    with pytest.warns(LRScopeWarning, match="constant momentum"):
        schedule = PolicySchedule("onecycle(max_lr=0.05, total_steps=10)")
    assert schedule(3) == parse("onecycle(max_lr=0.05, total_steps=10)")(3)


class _RecordLR(keras.callbacks.Callback):  # type: ignore[misc]
    """Records the optimizer's learning rate before every training batch."""

    def __init__(self) -> None:
        super().__init__()
        self.lrs: list[float] = []
        self.iterations: list[int] = []

    def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
        optimizer = self.model.optimizer
        self.iterations.append(int(optimizer.iterations.value))
        self.lrs.append(float(optimizer.learning_rate))


def test_tiny_model_fit_follows_the_policy() -> None:
    keras.utils.set_random_seed(0)
    torch.set_num_threads(1)
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=PolicySchedule(SPEC)), loss="mse")
    recorder = _RecordLR()
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[recorder])
    policy = parse(SPEC)
    steps = 16  # 64 / 8 batches x 2 epochs
    assert recorder.iterations == list(range(steps))
    assert recorder.lrs == pytest.approx(policy.values(steps), rel=1e-6)
    assert int(model.optimizer.iterations.value) == steps
    assert history.history["loss"][-1] < history.history["loss"][0]


def test_import_lrscope_does_not_import_keras() -> None:
    code = (
        "import sys, lrscope, lrscope.policies; assert 'keras' not in sys.modules, 'keras imported'"
    )
    env = {**os.environ, "KERAS_BACKEND": "torch"}
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("configured", ["tensorflow", "jax", None])
def test_backend_defaults_to_torch_only_when_tensorflow_is_configured_but_missing(
    configured: str | None, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    import importlib.util

    from lrscope import keras as lrscope_keras

    if configured is not None:
        (tmp_path / "keras.json").write_text(json.dumps({"backend": configured}))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.delenv("KERAS_BACKEND")
    monkeypatch.delitem(sys.modules, "keras")  # as if keras were not imported yet
    assert lrscope_keras._configured_keras_backend() == (configured or "tensorflow")
    lrscope_keras._default_backend_to_torch()
    tensorflow_missing = importlib.util.find_spec("tensorflow") is None
    expected = "torch" if configured != "jax" and tensorflow_missing else None
    assert os.environ.get("KERAS_BACKEND") == expected

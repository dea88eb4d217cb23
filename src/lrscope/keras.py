"""Keras 3 adapter: any lrscope policy as a ``LearningRateSchedule``.

:class:`PolicySchedule` evaluates the policy's closed form at the optimizer's
iteration count: the update with ``optimizer.iterations == t`` uses
``policy(t)`` (learning rate in the optimizer's units), so the first update
runs with ``policy(0)``, as with :class:`lrscope.torch.PolicyScheduler`.

Importing this module imports keras (``import lrscope`` does not). When no
backend is chosen (no ``KERAS_BACKEND`` and keras' config names its default,
TensorFlow) and TensorFlow is not installed, the backend defaults to
``torch`` before keras is imported, since lrscope always has torch.

Momentum: Keras optimizers take a constant momentum, so a policy that
schedules momentum (e.g. ``onecycle`` with its default
``cycle_momentum=true``) only drives the learning rate here; an
:class:`~lrscope.errors.LRScopeWarning` says so.

The schedule needs a concrete step: it works eagerly and with the torch
backend; under a JAX or TensorFlow ``jit_compile`` the step is symbolic and
a :class:`~lrscope.errors.ParameterError` explains how to run eagerly.
"""

from __future__ import annotations

import importlib.util
import json
import operator
import os
import sys
import warnings
from typing import Any


def _configured_keras_backend() -> str:
    """The backend keras would pick from its config file (TensorFlow by default)."""
    keras_dir = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    path = os.path.join(keras_dir, "keras.json")
    try:
        with open(path, encoding="utf-8") as fh:
            config = json.load(fh)
    except (OSError, ValueError):
        return "tensorflow"
    backend = config.get("backend", "tensorflow") if isinstance(config, dict) else None
    return backend if isinstance(backend, str) else "tensorflow"


def _default_backend_to_torch() -> None:
    """Choose the torch backend when keras would otherwise fail on a missing TensorFlow."""
    if "keras" in sys.modules or "KERAS_BACKEND" in os.environ:
        return
    if _configured_keras_backend() != "tensorflow":
        return
    if importlib.util.find_spec("tensorflow") is None:
        os.environ["KERAS_BACKEND"] = "torch"


_default_backend_to_torch()

import keras  # noqa: E402

from lrscope.errors import LRScopeWarning, ParameterError  # noqa: E402
from lrscope.policies import Policy, parse  # noqa: E402

__all__ = ["PolicySchedule"]


def _as_int_step(step: Any) -> int:
    """Convert an optimizer step (int, numpy scalar, tensor or keras Variable) to an int."""
    if isinstance(step, keras.Variable):
        step = step.value
    try:
        return operator.index(step)  # ints, numpy ints, integer scalar tensors
    except TypeError:
        pass
    try:
        return int(step)  # float scalars and tensors
    except Exception as exc:  # symbolic tensors (jit tracing) have no value yet
        raise ParameterError(
            "PolicySchedule",
            "step",
            "a concrete integer step; run the model eagerly (model.compile(..., "
            "jit_compile=False) or run_eagerly=True) or use KERAS_BACKEND=torch",
            type(step).__name__,
        ) from exc


@keras.saving.register_keras_serializable(package="lrscope")
class PolicySchedule(keras.optimizers.schedules.LearningRateSchedule):  # type: ignore[misc]
    """A Keras 3 learning-rate schedule from an lrscope policy or spec string.

    ``schedule(t) = policy(t)`` for the optimizer iteration ``t >= 0``.

    Args:
        policy: a :class:`~lrscope.policies.Policy` or its spec string, e.g.
            ``"onecycle(max_lr=0.1, total_steps=1000, cycle_momentum=false)"``.

    Example:
        >>> import keras
        >>> from lrscope.keras import PolicySchedule
        >>> opt = keras.optimizers.SGD(learning_rate=PolicySchedule("TRI(k0=0.001, k1=0.006, l=4)"))
    """

    def __init__(self, policy: Policy | str) -> None:
        super().__init__()
        if isinstance(policy, str):
            policy = parse(policy)
        if not isinstance(policy, Policy):
            raise ParameterError(
                "PolicySchedule", "policy", "a Policy or a spec string", type(policy).__name__
            )
        self.policy: Policy = policy
        if policy.has_momentum:
            warnings.warn(
                f"policy {policy.spec!r} schedules momentum, but Keras optimizers take a "
                f"constant momentum: PolicySchedule applies its learning rate only",
                LRScopeWarning,
                stacklevel=2,
            )

    @property
    def spec(self) -> str:
        """The canonical spec string of the policy."""
        return self.policy.spec

    def __call__(self, step: Any) -> float:
        """The learning rate for optimizer iteration ``step`` (an int or a scalar tensor)."""
        return self.policy(_as_int_step(step))

    def get_config(self) -> dict[str, Any]:
        """``{"spec": ...}``: the policy's canonical spec string."""
        return {"spec": self.policy.spec}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> PolicySchedule:
        """Rebuild the schedule from :meth:`get_config`'s output."""
        if not isinstance(config, dict) or not isinstance(config.get("spec"), str):
            raise ParameterError(
                "PolicySchedule.from_config", "config", "a dict {'spec': str}", config
            )
        return cls(config["spec"])

    def __repr__(self) -> str:
        return f"PolicySchedule({self.policy.spec!r})"

"""Protocol ops served by the policy engine (apply_profile, set_ramp, migrate, ...)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

PolicyOp = Callable[[Any, dict[str, Any]], Awaitable[dict[str, Any]]]

# op name -> async handler(agent, args) -> result dict. Filled by the policy engine.
POLICY_OPS: dict[str, PolicyOp] = {}

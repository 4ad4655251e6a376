"""Joining a Ray cluster, shared by `data build --ray` and `data synth --ray`: one place that knows the Ray Data
settings both engines rely on (ordered output, bounded retries, no progress bars of Ray's own).
Ray is an optional extra (`pip install 'sigmascene[cluster]'`).
"""

from __future__ import annotations

from typing import Any, Optional

from ..errors import SigmaError

# a 2-CPU local cluster deadlocks when every actor holds a whole CPU (the read tasks starve); half is enough
ACTOR_CPUS = 0.5
RETRIES = 3


def ray_module():
    try:
        import ray
        import ray.data
    except ImportError as e:
        raise SigmaError("--ray needs Ray Data", hint="pip install 'sigmascene[cluster]'") from e
    return ray


def connect(address: Optional[str], num_cpus: Optional[int] = None) -> Any:
    """Join the cluster at `address` ("auto": the one `ray start` made here; "local": start one in-process), or
    reuse the Ray this process already joined."""
    ray = ray_module()
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if address in (None, "local"):
            kwargs["num_cpus"] = num_cpus
        else:
            kwargs["address"] = address
        try:
            ray.init(**kwargs)
        except (ConnectionError, ValueError) as e:  # ValueError: an address Ray cannot parse ("host:abc")
            raise SigmaError(f"cannot reach a Ray cluster at {address!r} ({e})",
                             hint="start one with `ray start --head`, or pass --ray local") from None
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.execution_options.preserve_order = True
    # Ray Data restarts dead actors and resubmits their tasks without limit (a lost node costs nothing but
    # time: a retried shard reuses what is stored). A stage's own exception is not retried — with actors that
    # would loop forever on a deterministic error — it stops the build; `--resume` continues once it is fixed.
    # The synth tasks are stateless, so a few retries of theirs are bounded and harmless.
    ctx.retried_map_errors = True
    ctx.max_map_retries = RETRIES
    return ray

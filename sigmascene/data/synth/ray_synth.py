"""`data synth --ray`: the toy world's samples rendered by Ray tasks (stateless, so retried freely)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from ..ray_cluster import ACTOR_CPUS, connect


def _synth_batch(batch: dict, cfg_json: str, root: str) -> dict:
    import os

    os.environ.setdefault("PYOPENGL_PLATFORM", "egl")
    from .config import SynthConfig
    from .sample import generate

    cfg = SynthConfig.model_validate_json(cfg_json)
    return {"index": list(batch["index"]), "line": [generate(cfg, int(i), root).to_line() for i in batch["index"]]}


def synth_lines(cfg, indices: list[int], root: str | Path, address: Optional[str]):
    """`data synth --ray`: the toy world's samples rendered by Ray tasks; yields index lines in sample order (the
    caller appends them, so the index guarantee of the one-machine runner holds unchanged)."""
    ray = connect(address)
    ds = ray.data.from_items([{"index": i} for i in indices], override_num_blocks=max(1, min(len(indices), 64)))
    ds = ds.map_batches(_synth_batch, batch_size=1, num_cpus=ACTOR_CPUS,
                        fn_kwargs={"cfg_json": cfg.model_dump_json(), "root": str(Path(root).resolve())})
    for row in ds.iter_rows():
        yield str(row["line"])

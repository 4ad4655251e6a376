"""`sigmascene.render(...)`: Python's keyword arguments -> a RenderRequest -> the same render call as the CLI.

Only the spelling is Python's (lists of seeds, (path, weight) LoRA pairs, a Scene or a file); every rule is the
resolver's (plan.py), so a seed or a LoRA the CLI refuses is refused here with the same message.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from ..errors import ConfigError, did_you_mean
from .request import RenderRequest

if TYPE_CHECKING:
    from ..scene import Scene
    from .render import RenderResult

_CALL_ONLY = ("note", "progress", "cancel", "loaded", "source", "sets")
_SET_HERE = ("base", "loras", "method", "seed", "seeds", "steps", "guidance", "output_type")


def _lora_text(lo: str | Path | tuple[str | Path, float]) -> str:
    if isinstance(lo, tuple):
        path, weight = lo
        return f"{path}:{float(weight)!r}"
    return str(lo)


def render_python(scene: "Scene | str | Path", *, base: str | Path | None, loras: Sequence[Any], method: str | None,
                  seed: int | Sequence[int] | None, steps: int | None, guidance: float | None, output_type: str,
                  **options: Any) -> "RenderResult":
    from ..grammar import load
    from .render import render_scene

    known = [f.name for f in fields(RenderRequest) if f.name not in _SET_HERE]
    call = {k: options.pop(k) for k in _CALL_ONLY if k in options}
    for key in options:
        if key not in known:
            raise ConfigError(f"sigmascene.render() has no option {key!r}",
                              hint=did_you_mean(key, [*known, *_CALL_ONLY, *_SET_HERE]) or
                              f"the options are: {', '.join(sorted(known + list(_CALL_ONLY)))}")
    if isinstance(loras, (str, Path)):
        loras = [loras]
    seeds: tuple[int, ...] = ()
    one: int | None = None
    if isinstance(seed, (list, tuple)):
        seeds = tuple(seed)
        if not seeds:
            raise ConfigError("seed=[] asks for no image", hint="pass a seed, a list of seeds, or None")
    elif seed is not None:
        one = seed  # type: ignore[assignment]  # any other Sequence is refused by the seed rule, as it should
    request = RenderRequest(base=str(base) if base is not None else None, loras=[_lora_text(lo) for lo in loras],
                            method=method, seed=one, seeds=seeds, steps=steps,
                            guidance=guidance, output_type=output_type, **options)
    if isinstance(scene, str) and ("\n" in scene or scene.lstrip().startswith("sigma ")):
        raise ConfigError("render takes a Scene or a file path; this is scene text",
                          hint="load it first: sigmascene.render(sigmascene.loads(text))")
    if isinstance(scene, (str, Path)):
        call.setdefault("source", str(scene))
        scene = load(scene)
    return render_scene(scene, request, **call)

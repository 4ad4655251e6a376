"""Shared pieces of the `data build` tests: the tiny random-weight model folders (written once per session) and
configs using them."""

from __future__ import annotations

from pathlib import Path

import tomli_w

_CACHE: dict[str, object] = {}


def tiny_models(tmp_path_factory) -> dict[str, Path]:
    if "models" not in _CACHE:
        from sigmascene.testing.tiny_stages import write_tiny_models

        _CACHE["models"] = write_tiny_models(tmp_path_factory.mktemp("build-models"), llm=True,
                                             grounding=True)
    return _CACHE["models"]  # type: ignore[return-value]  # the cache holds one type per key


def tiny_raw(models: dict[str, Path], llm: bool = False, grounding: bool = False, **build) -> dict:
    from sigmascene.testing.tiny_stages import tiny_config

    chosen = {k: v for k, v in models.items() if (llm or k != "llm") and (grounding or k != "grounding")}
    return tiny_config(chosen, **build)


def write_toml(path: Path, raw: dict) -> Path:
    path.write_text(tomli_w.dumps(raw), encoding="utf-8")
    return path


def dataset_files(root: Path) -> dict[str, bytes]:
    """Every file of a built dataset except the work store and the run report (timings differ per run)."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if p.is_file() and ".build" not in rel.parts and rel.as_posix() != "build.json":
            out[rel.as_posix()] = p.read_bytes()
    return out


REFERENCE_BUILD = {"shard_size": 3}  # the config every comparison (CLI, resume, Ray) shares; 6 samples


def reference_build(tmp_path_factory, models: dict[str, Path]) -> tuple[Path, Path]:
    """(config path, dataset) of one uninterrupted 6-sample one-machine build, made once per session."""
    if "built" not in _CACHE:
        from sigmascene.data.recipe import load_config, run_build

        root = tmp_path_factory.mktemp("reference-build")
        cfg = write_toml(root / "build.toml", tiny_raw(models, **REFERENCE_BUILD))
        run_build(load_config(cfg), root / "ds", count=6)
        _CACHE["built"] = (cfg, root / "ds")
    return _CACHE["built"]  # type: ignore[return-value]  # the cache holds one type per key

"""build.toml in, located errors out (`build.toml:12:1: error: stages.segment.box_threshold: ...` with the line
quoted), and the documented default written back for `data build --init` — the same conventions as the train
config, so a user who knows one knows the other.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ...errors import ConfigError, Diagnostic, SourceLoc, did_you_mean
from ...core.toml_file import read_toml
from .config import BuildConfig


def _locate(text: str, file: str, keys: list[str]) -> SourceLoc | None:
    """The line of `a.b.c` in TOML text: an exact `key =` under its table, else the nearest enclosing one."""
    table: list[str] = []
    best: SourceLoc | None = None
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        m = re.match(r"^\[\s*([A-Za-z0-9_.]+)\s*\]", s)
        if m:
            table = m.group(1).split(".")
            if table == keys[: len(table)] and best is None:
                best = SourceLoc(file, n, 1)
            continue
        km = re.match(r"^([A-Za-z0-9_]+)\s*=", s)
        if not km:
            continue
        path = table + [km.group(1)]
        if path == keys:
            return SourceLoc(file, n, line.index(km.group(1)) + 1)
    return best


def _fields_at(loc: tuple) -> list[str]:
    model: Any = BuildConfig
    for part in loc[:-1]:
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return []
        model = field.annotation
    return list(getattr(model, "model_fields", {}))


def validate_config(data: dict, *, file: str = "<config>", text: str = "",
                    base_dir: str | Path | None = None) -> BuildConfig:
    try:
        cfg = BuildConfig.model_validate(data)
    except ValidationError as err:
        diags = []
        for e in err.errors():
            loc = tuple(str(p) for p in e["loc"])
            where = ".".join(loc) or "config"
            msg, hint = e["msg"].removeprefix("Value error, "), None
            if e["type"] == "extra_forbidden":
                msg = f"unknown setting `{where}`"
                hint = (did_you_mean(loc[-1], _fields_at(loc))
                        or "run `sigmascene data build --init` to see every setting")
            diags.append(Diagnostic(f"{where}: {msg}", _locate(text, file, list(loc)), hint))
        raise ConfigError(diags) from None
    cfg.base_dir = str(base_dir) if base_dir is not None else None
    return cfg


def load_config(path: str | Path) -> BuildConfig:
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"build config {str(p)!r} is a folder, not a TOML file",
                          hint="pass the build.toml file itself with --config")
    if not p.is_file():
        raise ConfigError(f"build config {str(p)!r} does not exist",
                          hint="write a commented one with `sigmascene data build --init --config FILE`")
    text, data = read_toml(p)
    return validate_config(data, file=str(p), text=text, base_dir=p.resolve().parent)


def _toml_value(v: Any) -> str:
    import json

    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, str):
        return json.dumps(v)
    return repr(v)


def render_toml(cfg: BuildConfig, *, header: list[str] | None = None) -> str:
    """The config as TOML with each field's description as a comment above it."""
    out = list(header or [])

    def section(model: BaseModel, prefix: str) -> None:
        nested = []
        out.append(f"[{prefix}]")
        for name, field in type(model).model_fields.items():
            value = getattr(model, name)
            if isinstance(value, BaseModel):
                nested.append((name, field, value))
                continue
            out.extend(f"# {line}" for line in (field.description or "").splitlines())
            if value is None:
                out.append(f"# {name} = (unset)")
            else:
                out.append(f"{name} = {_toml_value(value)}")
        out.append("")
        for name, field, value in nested:
            out.extend(f"# {line}" for line in (field.description or "").splitlines())
            section(value, f"{prefix}.{name}")

    section(cfg.build, "build")
    for name, field in type(cfg.stages).model_fields.items():
        out.extend(f"# {line}" for line in (field.description or "").splitlines())
        section(getattr(cfg.stages, name), f"stages.{name}")
    return "\n".join(out).rstrip() + "\n"


INIT_HEADER = [
    "# sigmascene data build: the SIGMA-SET27K recipe (prompts -> image -> grounded masks -> depth -> reposed",
    "# identity images -> filters -> boxes). Every model is read from a LOCAL folder; nothing is downloaded.",
    "# Relative paths resolve against this file. docs/dataset-build.md lists suggested models per stage.",
    "",
]


def check_init_target(p: Path, force: bool) -> None:
    """--init's file: never a folder (--force cannot make one a file), never an existing file without --force."""
    if p.is_dir():
        raise ConfigError(f"{p} is a folder; --init writes a file", hint=f"name a file, e.g. {p / 'build.toml'}")
    if p.exists() and not force:
        raise ConfigError(f"{p} already exists; refusing to overwrite it", hint="pass --force, or choose another file")


def write_default(path: str | Path, cfg: BuildConfig | None = None, *, force: bool = False) -> Path:
    p = Path(path)
    check_init_target(p, force)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(render_toml(cfg or BuildConfig(), header=INIT_HEADER), encoding="utf-8")
    return p

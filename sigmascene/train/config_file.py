"""The config file: TOML in, located errors out, `--set` overrides, and the documented default written back.

Errors are reported like the scene language's: `cfg.toml:12:1: error: optim.lr: ...` with the line quoted, or,
when the bad value came from the command line, naming the `--set` that gave it.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ..errors import ConfigError, Diagnostic, SourceLoc
from ..core.toml_file import read_toml
from .config import TrainConfig
from .toml_text import render_toml


# -- reading ------------------------------------------------------------------------------------------------

def _parse_value(text: str) -> Any:
    """A `--set` value as TOML (numbers, booleans, strings in quotes, arrays), else as a bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_set(data: dict, item: str) -> str:
    """Apply one `--set a.b.c=value` to a raw config dict; list items by index (curriculum.stages.0.steps=10)."""
    key, sep, raw = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"--set expects KEY=VALUE, got {item!r}", hint="for example: --set optim.grad_accum=4")
    parts = key.split(".")
    node: Any = data
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(f"--set {key}: `{part}` is not an index of a {len(node)}-item list")
            if last:
                node[int(part)] = _parse_value(raw.strip())
            else:
                node = node[int(part)]
            continue
        if last:
            node[part] = _parse_value(raw.strip())
        else:
            nxt = node.setdefault(part, {})
            if not isinstance(nxt, (dict, list)):
                raise ConfigError(f"--set {key}: `{'.'.join(parts[:i + 1])}` is a value, not a table")
            node = nxt
    return key


def _locate(text: str, file: str, loc: tuple) -> SourceLoc | None:
    """Best-effort line of a pydantic error location (('optim', 'lr') or ('curriculum','stages',1,'steps'))."""
    keys = [k for k in loc if isinstance(k, str)]
    if not keys or not text:
        return None
    table: list[str] = []
    want_index = next((k for k in loc if isinstance(k, int)), None)
    seen: dict[str, int] = {}
    best: SourceLoc | None = None
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        m = re.match(r"^\[\[?\s*([A-Za-z0-9_.]+)\s*\]\]?", s)
        if m:
            table = m.group(1).split(".")
            if s.startswith("[["):
                seen[m.group(1)] = seen.get(m.group(1), -1) + 1
            if table == keys and want_index is None:  # an unknown or wrong section: its header line
                return SourceLoc(file, n, line.index(m.group(1)) + 1)
            continue
        km = re.match(r"^([A-Za-z0-9_]+)\s*=", s)
        if not km:
            continue
        path = table + [km.group(1)]
        idx_ok = want_index is None or seen.get(".".join(table), 0) == want_index
        if path == keys and idx_ok:
            return SourceLoc(file, n, line.index(km.group(1)) + 1)
        if path == keys[: len(path)] and idx_ok and best is None:
            best = SourceLoc(file, n, line.index(km.group(1)) + 1)
    return best


def _fields_at(loc: tuple) -> list[str]:
    """Setting names valid where an unknown key was found (for a did-you-mean hint)."""
    model: Any = TrainConfig
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return []
        ann = field.annotation
        args = getattr(ann, "__args__", ())
        model = args[0] if args and isinstance(args[0], type) and issubclass(args[0], BaseModel) else ann
    return list(getattr(model, "model_fields", {}))


def validate_config(data: dict, *, file: str = "<config>", text: str = "", base_dir: str | Path | None = None,
                    overrides: dict[str, str] | None = None) -> TrainConfig:
    """Validate a raw dict; errors point at the TOML line, or name the `--set` that caused them."""
    from ..errors import did_you_mean

    overrides = overrides or {}
    try:
        cfg = TrainConfig.model_validate(data)
    except ValidationError as err:
        diags = []
        for e in err.errors():
            loc = tuple(e["loc"])
            where = ".".join(str(p) for p in loc) or "config"
            msg = e["msg"].removeprefix("Value error, ")
            hint = None
            if e["type"] == "extra_forbidden":
                msg = f"unknown setting `{where}`"
                hint = (did_you_mean(str(loc[-1]), _fields_at(loc))
                        or "run `sigmascene train --init FILE` to see every setting")
            given = next((item for key, item in overrides.items() if where == key or where.startswith(key + ".")), None)
            if given is not None:
                diags.append(Diagnostic(f"{where}: {msg} (from --set {given})", None, hint))
            else:
                diags.append(Diagnostic(f"{where}: {msg}", _locate(text, file, loc), hint))
        raise ConfigError(diags) from None
    cfg.base_dir = str(base_dir) if base_dir is not None else None
    cfg.source_file = file if text else None
    cfg.source_sets = dict(overrides)
    return cfg


def check_data_root(cfg: TrainConfig) -> None:
    """Refuse a data.root without index.jsonl before any model loads, pointing at the line (or `--set`) that
    named it: the dataset loader alone only knows the folder, so its error had no place in the config."""
    from ..data.io import INDEX
    from ..errors import remember_source

    root = cfg.data_root
    if (root / INDEX).is_file():
        return
    hint = ("a dataset is a folder holding index.jsonl (create one with `sigmascene data synth` or "
            "`sigmascene data import`)")
    given = cfg.source_sets.get("data.root")
    loc = None
    if given is not None:
        msg = f"data.root: no {INDEX} in {root} (from --set {given})"
    else:
        msg = f"data.root: no {INDEX} in {root}"
        if cfg.source_file:
            try:
                text = Path(cfg.source_file).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                text = ""
            loc = _locate(text, cfg.source_file, ("data", "root"))
            if loc is not None:
                remember_source(cfg.source_file, text)  # quote the line and caret, as a scene error does
            else:
                hint = f"data.root is not set in {cfg.source_file}, so it is the default; set it there. " + hint
    raise ConfigError(Diagnostic(msg, loc, hint))


RUN_CONFIG = "config.toml"  # the copy of its config every run folder holds (absolute paths)


def run_folder_of(path: str | Path) -> Path | None:
    """The run folder `path` names: a folder holding config.toml, or such a config.toml itself; else None."""
    p = Path(path)
    if p.is_dir() and (p / RUN_CONFIG).is_file():
        return p
    if p.name == RUN_CONFIG and p.is_file() and any((p.parent / d).exists() for d in ("checkpoints", "metrics.jsonl")):
        return p.parent
    return None


def check_run_dir_keeps_the_config(cfg: TrainConfig) -> None:
    """A run folder holds its own config.toml (resolved, comments gone). When run.dir is the folder of the user's
    own config.toml, that copy would silently replace the file the user wrote; a run's earlier copy is fine."""
    own = cfg.run_dir / RUN_CONFIG
    if cfg.source_file and own.is_file() and Path(cfg.source_file).resolve() == own.resolve() \
            and run_folder_of(own) is None:
        raise ConfigError(f"run.dir {cfg.run_dir} is the folder of this config file, and a run writes its own "
                          f"{RUN_CONFIG} there: your {own} would be replaced",
                          hint="set run.dir to a subfolder (e.g. runs/first), or rename the config file")


def load_config(path: str | Path, sets: list[str] | None = None) -> TrainConfig:
    """Read a TOML config (or a run folder's own config.toml), apply `--set` overrides, validate; every problem is
    a located SigmaError. A run folder continues where it is, even when it was moved or its copy is older and
    relative."""
    p = Path(path)
    run = run_folder_of(p)
    if p.is_dir():
        if run is None:
            raise ConfigError(f"{p} is a folder without {RUN_CONFIG}",
                             hint="pass a config file, or a run folder that `sigmascene train` wrote")
        p = run / RUN_CONFIG
    if not p.is_file():
        raise ConfigError(f"config file {str(p)!r} does not exist",
                         hint="create one with `sigmascene train --init FILE`")
    text, data = read_toml(p)
    overrides = {apply_set(data, item): item for item in sets or []}
    cfg = validate_config(data, file=str(p), text=text, base_dir=p.resolve().parent, overrides=overrides)
    if run is not None and "run.dir" not in overrides and cfg.run_dir.resolve() != run.resolve():
        cfg.run.dir = str(run.resolve())  # the folder given is the run to continue, wherever it was first made
    return cfg


# -- writing ------------------------------------------------------------------------------------------------

def default_toml() -> str:
    return render_toml(TrainConfig(), documented=True)


def check_init_target(p: Path, force: bool) -> None:
    """--init's file: never a folder (--force cannot make one a file), never an existing file without --force."""
    if p.is_dir():
        raise ConfigError(f"{p} is a folder; --init writes a file", hint=f"name a file, e.g. {p / 'config.toml'}")
    if p.exists() and not force:
        raise ConfigError(f"{p} already exists; refusing to overwrite it", hint="pass --force, or choose another file")


def write_default(path: str | Path, *, force: bool = False) -> Path:
    p = Path(path)
    check_init_target(p, force)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(default_toml(), encoding="utf-8")
    return p

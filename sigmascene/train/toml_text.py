"""A pydantic settings model as TOML text, optionally with each field's description above it.

Generic over the model, so `TrainConfig.to_toml` (the run's own record) and the config file's documented
default (`config_file.default_toml`) share it without the config and its file format importing each other.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


def _toml_value(v: Any) -> str:
    import tomli_w

    return tomli_w.dumps({"v": v}).split("=", 1)[1].strip()


def _comment(desc: str | None) -> list[str]:
    return [f"# {line}" for line in (desc or "").splitlines()]


def _is_table(v: Any) -> bool:
    return isinstance(v, BaseModel) or (isinstance(v, list) and bool(v) and isinstance(v[0], BaseModel))


def render_toml(cfg: BaseModel, *, documented: bool = True) -> str:
    """The config as TOML; `documented` puts each field's description above it (the `--init` file)."""
    out: list[str] = []
    if documented:
        out += ["# sigmascene train configuration. Every setting is shown with its default; `--set KEY=VALUE`",
                "# overrides one for a run (e.g. --set optim.grad_accum=4). Relative paths resolve against this "
                "file.", ""]

    def section(model: BaseModel, prefix: str, array: bool = False) -> None:
        header = f"[[{prefix}]]" if array else f"[{prefix}]"
        scalars = [n for n, f in type(model).model_fields.items() if not f.exclude and not _is_table(getattr(model, n))]
        if scalars or array:
            out.append(header)
        nested = []
        for name, field in type(model).model_fields.items():
            if field.exclude:
                continue
            value = getattr(model, name)
            if _is_table(value):
                nested.append((name, field, value))
                continue
            if documented:
                out.extend(_comment(field.description))
            dumped = value if not isinstance(value, tuple) else list(value)
            if dumped is None:
                continue
            out.append(f"{name} = {_toml_value(dumped)}")
        out.append("")
        for name, field, value in nested:
            if documented:
                out.extend(_comment(field.description))
            if isinstance(value, list):
                for item in value:
                    section(item, f"{prefix}.{name}", array=True)
            else:
                section(value, f"{prefix}.{name}")

    for name, field in type(cfg).model_fields.items():
        if field.exclude:
            continue
        section(getattr(cfg, name), name)
    return "\n".join(out).rstrip() + "\n"

"""Byte-level fingerprints of what the compiler writes for every example scene, so a refactor of the language
or the compiler can prove it changed nothing a user sees: `python3 tests/compiler/golden.py --write` records
them (from the code before the change), test_examples_golden.py compares."""

from __future__ import annotations

import contextlib
import hashlib
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).with_name("golden_maps.json")


def example_files() -> list[Path]:
    return sorted((ROOT / "examples").rglob("*.sigma"))


def fingerprints() -> dict[str, dict[str, str]]:
    """{example path: {control.png / identity.png / manifest.json / fmt: sha256}}; an example that does not
    compile on its own (a fragment meant for `include`) records its error kind instead."""
    import sigmascene
    from sigmascene.errors import SigmaError

    out: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory() as tmp, contextlib.chdir(ROOT):  # the manifest names the source as given
        for path in example_files():
            key = path.relative_to(ROOT).as_posix()
            try:
                scene = sigmascene.load(key)
            except SigmaError as err:
                out[key] = {"error": type(err).__name__}
                continue
            folder = sigmascene.compile(scene).save(Path(tmp) / key.replace("/", "_"))
            out[key] = {name: hashlib.sha256((folder / name).read_bytes()).hexdigest()
                        for name in ("control.png", "identity.png", "manifest.json")}
            out[key]["fmt"] = hashlib.sha256(sigmascene.dumps(scene).encode()).hexdigest()
    return out


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        GOLDEN.write_text(json.dumps(fingerprints(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    else:
        print(json.dumps(fingerprints(), indent=2, sort_keys=True))

"""Every example scene compiles to the same bytes (control.png, identity.png, manifest.json) and formats to the
same text as recorded in golden_maps.json: refactors of the language and the compiler change no map a user
sees. After a change that is *meant* to change maps, record again with `python3 tests/compiler/golden.py --write`
and say why in the commit."""

import json

import golden


def test_examples_compile_to_the_recorded_bytes():
    recorded = json.loads(golden.GOLDEN.read_text(encoding="utf-8"))
    now = golden.fingerprints()
    assert sorted(now) == sorted(recorded), "examples added or removed: record again"
    for name in recorded:
        assert now[name] == recorded[name], f"{name} compiles or formats differently than recorded"

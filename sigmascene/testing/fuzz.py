"""A grammar-aware mutation fuzzer for `.sigma` text, and the invariants every input must keep.

Random bytes rarely get past the first token, so inputs are made by mutating real scenes token by token: a
number becomes 1e308 or 1e-320, a string becomes `/dev/zero` or a NUL, a keyword moves, a block is copied a
hundred times, a line break becomes U+2028. `check_text` then asserts what issue 18 promises for any input:
only SigmaError escapes, every diagnostic is located inside the file and quotes that line, and whatever is
accepted formats idempotently to text that means the same scene (and, optionally, compiles to the same maps).
The CI property test and `benchmarks/fuzz.py` share this module so both hunt the same way.
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import SigmaError, source_line
from ..grammar.parser import grammar_units, grammar_words
from ..scene import KINDS

FILE = "<fuzz>"
SEEDS = [
    'sigma 1\ncanvas 64 x 48\nsubject a { ref "refs/cat.png" box2d (0, 0, 1, 1) }  # trailing\n',
    'sigma 1\ncanvas 64 x 64\nparam x = 0.3\nparam y = $x\ncamera { position (0, 1, 4) look_at (0, 0, 0) fov 50 deg }\n'
    'subject a {\n    ref "refs/cat.png"\n    box3d { center ($y, 0, -1) size (1, 1, 1) yaw 30 deg }\n}\n'
    'subject b { ref "refs/ball.png" box2d (0.1, 0.2, 0.6, 0.9) behind a }\n',
    'sigma 1\ncanvas 128 x 64\ncompose "@a by @b"\n# lead\n'
    'subject a { ref "refs/sofa.png" mask "masks/rug.png" depth 2 }\n'
    'subject b { ref "refs/lamp.png" box2d (10 px, 0, 64 px, 1) in_front_of a depth_map "none.npy" }\n',
    'sigma 1\ninclude "furniture.sigma"\nsubject m { ref "refs/vase.png" mesh "meshes/vase.obj" { position (0, 0, -2) '
    'scale 0.5 pitch 0.1 rad } caption "a vase" }\nseed 4\nprompt "x"\n',
]


def kinds_seed(seed: int = 0) -> str:
    """A scene with one subject of every placement kind, from each kind's own generator (scene/kinds/)."""
    rng = random.Random(seed)
    subjects = "".join(f'subject k{k} {{ ref "refs/cat.png" {kind.example(rng)} depth {k + 1} }}\n'
                       for k, kind in enumerate(KINDS.values()))
    return "sigma 1\ncanvas 64 x 64\n" + subjects


NUMBERS = ["0", "-0", "1", "-1", "0.5", "16", "4096", "4097", "1e308", "-1e308", "1e-320", "1e400", "1e-3", "255",
           "3600", "1e5", "100001", "9" * 40, ".5", "1.", "+3", "0.0000001"]
STRINGS = ['""', '"refs/cat.png"', '"../../../../etc/passwd"', '"/dev/zero"', '"a\\u0000b"', '"' + "n" * 300 + '"',
           '"refs"', '"@a @zz"', '"\\ud800"', '"\\q"', '"furniture.sigma"', '"living_room.sigma"', '"é ☃"']
NAMES = ["a", "b", "c", "sofa", "subject", "x", "y", "_", "A" * 60]
KEYWORDS = list(grammar_words()[2]) + list(grammar_units())  # read from sigma.lark, never typed again
PUNCT = ["{", "}", "(", ")", ",", "=", "$x", "$nope", "#", '"', "\\", "@"]
ODD = ["\x0c", "\x0b", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\r", "\r\n", "\t", "\x00", "\ufeff",
       "\u00a0", "é", "\U0001f600"]
_TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|#[^\n]*|\$?[A-Za-z_][A-Za-z0-9_]*|[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?'
                    r'|\s+|.', re.S)


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _like(tok: str, rng: random.Random) -> str:
    """A token of the same kind (or, now and then, of any kind)."""
    if rng.random() < 0.15:
        return rng.choice(NUMBERS + STRINGS + KEYWORDS + PUNCT + ODD)
    if tok.startswith('"'):
        return rng.choice(STRINGS)
    if tok[:1].isdigit() or tok[:1] in "+-.":
        return rng.choice(NUMBERS)
    if tok.startswith("$"):
        return rng.choice(["$x", "$y", "$nope", "$a"])
    if tok[:1].isalpha() or tok[:1] == "_":
        return rng.choice(KEYWORDS + NAMES)
    if tok.isspace():
        return rng.choice([" ", "\n", "\n\n", ""] + ODD[:10])
    return rng.choice(PUNCT)


def mutate(text: str, rng: random.Random, donors: list[str] | None = None, edits: int | None = None) -> str:
    """One to four token-level edits of `text` (grammar-aware: tokens are replaced by tokens of their kind)."""
    toks = tokens(text) or [""]
    for _ in range(edits or rng.randint(1, 4)):
        op = rng.random()
        i = rng.randrange(len(toks))
        if op < 0.35:
            toks[i] = _like(toks[i], rng)
        elif op < 0.5:
            del toks[i]
            toks = toks or [""]
        elif op < 0.65:
            toks.insert(i, rng.choice(KEYWORDS + PUNCT + NUMBERS + STRINGS + ODD) + rng.choice([" ", ""]))
        elif op < 0.72:
            j = rng.randrange(len(toks))
            toks[i], toks[j] = toks[j], toks[i]
        elif op < 0.82 and donors:  # splice a line from another scene
            lines = rng.choice(donors).split("\n")
            toks.insert(i, rng.choice(lines) + "\n")
        elif op < 0.88:  # repeat a stretch: long blocks, many subjects, deep chains
            j = min(len(toks), i + rng.randint(1, 30))
            toks[i:j] = toks[i:j] * rng.choice([2, 3, 30, 200])
        elif op < 0.94:
            toks[i] = toks[i].replace("\n", rng.choice(ODD)) if "\n" in toks[i] else toks[i] + rng.choice(ODD)
        else:  # cut the file
            toks = toks[:i] or [""]
    return "".join(toks)


def generate(seed: int, donors: list[str]) -> str:
    """The `seed`-th fuzz input: a mutated seed scene (deterministic for a given seed and donor list)."""
    return generate_with(random.Random(seed), donors)


def generate_with(rng: random.Random, donors: list[str]) -> str:
    """A fuzz input drawn with `rng` (hypothesis passes its own, so failures shrink)."""
    text = rng.choice(donors)
    if rng.random() < 0.4:  # one small edit: most of these still parse, which exercises fmt and the maps
        return mutate(text, rng, donors, edits=1)
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        text = mutate(text, rng, donors)
    return text


def seed_texts(examples: Path | None = None) -> list[str]:
    texts = list(SEEDS) + [kinds_seed()]
    if examples is not None:
        texts += [p.read_text(encoding="utf-8") for p in sorted(examples.glob("*.sigma"))]
    return texts


@dataclass
class Outcome:
    accepted: bool = False
    seconds: float = 0.0
    other: str | None = None  # an exception that is not a SigmaError, or a broken invariant
    notes: list[str] = field(default_factory=list)


def check_text(text: str, base_dir: Path, *, compile_maps: bool = False) -> Outcome:
    """Parse `text` and check every invariant; never raises. `compile_maps` also compiles small accepted scenes
    before and after `fmt` and compares the maps byte for byte."""
    t0 = time.perf_counter()
    out = Outcome()
    try:
        _check(text, base_dir, compile_maps, out)
    except SigmaError as err:
        problem = _located(err, text)
        if problem:
            out.other = problem
    except Exception as exc:  # noqa: BLE001 - the point is to find these
        out.other = f"{type(exc).__name__}: {exc}"[:300]
    out.seconds = time.perf_counter() - t0
    return out


def _check(text: str, base_dir: Path, compile_maps: bool, out: Outcome) -> None:
    from ..grammar import dumps, loads, parse_text

    scene = loads(text, file=FILE, base_dir=base_dir)
    out.accepted = True
    formatted = dumps(parse_text(text, file=FILE, base_dir=base_dir, fragment=True))
    again = dumps(parse_text(formatted, file=FILE, base_dir=base_dir, fragment=True))
    if again != formatted:
        raise AssertionError("fmt is not idempotent")
    reparsed = loads(formatted, file=FILE, base_dir=base_dir)
    if reparsed != scene:
        raise AssertionError("fmt changed the scene's meaning")
    if compile_maps and scene.canvas.width * scene.canvas.height <= 128 * 128:
        a, b = _maps(scene), _maps(reparsed)
        if a != b:
            raise AssertionError("fmt changed the compiled maps")


def _maps(scene) -> object:
    from ..compiler import compile_scene

    try:
        c = compile_scene(scene, identity_size=(16, 16))
    except SigmaError as err:
        return ("error", [d.message for d in err.diagnostics])
    return (c.control.tobytes(), c.identity.tobytes(), c.order)


def _located(err: SigmaError, text: str) -> str | None:
    """What is wrong with a rejection's diagnostics, or None when each is inside the file and quotes its line."""
    lines = text.removeprefix("\ufeff").split("\n")
    for d in err.diagnostics:
        if d.loc is None:
            if "--set" in d.message or d.severity == "note":
                continue
            return f"diagnostic without a location: {d.message[:120]}"
        if d.loc.file != FILE:
            continue  # in an included example file: checked when that file is fuzzed itself
        if not 1 <= d.loc.line <= len(lines):
            return f"line {d.loc.line} outside the file ({len(lines)} lines): {d.message[:120]}"
        line = lines[d.loc.line - 1]
        if not 1 <= d.loc.column <= len(line) + 1:
            return f"column {d.loc.column} outside line {d.loc.line} ({len(line)} chars): {d.message[:120]}"
        quoted = source_line(d.loc)
        if quoted != line.removesuffix("\r"):
            return f"quoted line is not line {d.loc.line}: {d.message[:120]}"
        d.format()
    return None

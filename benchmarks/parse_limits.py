"""Time the inputs issue 18 promised to keep fast: a 5 MB comment file, long param and `behind` chains, a file
with thousands of errors, one file included 200 times. Prints a table for docs/reliability.md.

    python3 benchmarks/parse_limits.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HEAD = "sigma 1\ncanvas 256 x 256\n"
SUBJ = 'subject a { ref "a.png" box2d (0, 0, 1, 1) }\n'


def best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    import sigmascene
    from sigmascene.grammar import parse_file

    def quietly(text: str, **kw):
        try:
            return sigmascene.loads(text, **kw)
        except sigmascene.SigmaError as err:
            return err.format()

    def params(n: int) -> str:
        return HEAD + "param p0 = 0.5\n" + "".join(f"param p{i} = $p{i - 1}\n" for i in range(1, n)) + \
            f'subject a {{ ref "a" box2d (0, 0, $p{n - 1}, 1) }}\n'

    def chain(n: int):
        scene = sigmascene.Scene()
        for i in range(n):
            scene.subjects.append(sigmascene.Subject(name=f"s{i}", ref="r.png", placement=sigmascene.box2d(0, 0, 1, 1),
                                                     relations=[sigmascene.Relation(kind="behind", target=f"s{i + 1}")]
                                                     if i < n - 1 else []))
        return scene

    quietly(HEAD + SUBJ)  # grammar build and imports are not part of any row
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        f = Path(tmp) / "comments.sigma"
        f.write_text(HEAD + "".join(f"# comment line {i} " + "x" * 40 + "\n" for i in range(90_000)) + SUBJ)
        rows.append((f"{f.stat().st_size / 1e6:.1f} MB file of comments (`check`)", best(lambda: parse_file(f))))
        (Path(tmp) / "inc.sigma").write_text('param q = 1\n')
        many = HEAD + 'include "inc.sigma"\n' * 200 + SUBJ
        rows.append(("one file included 200 times", best(lambda: quietly(many, base_dir=tmp))))
    for n in (1000, 2000, 4000):
        text = params(n)
        rows.append((f"{n}-deep `param` chain", best(lambda text=text: quietly(text))))
    for n in (1000, 4000):
        scene = chain(n)
        rows.append((f"{n}-long `behind` chain (Python API, Scene.problems)", best(scene.problems)))
    mangled = HEAD + "subject a { " + 'ref "a" box2d (0, 0, 1, 1) ' * 2000 + "}\n"
    rows.append(("2,000 repeated items (50 errors + a count)", best(lambda: quietly(mangled, file="<m>"))))
    long_line = "sigma 1\n" + 'prompt "' + "x" * 500_000 + '" oops\n' + SUBJ
    rows.append(("error on a 500 KB line (windowed quote)", best(lambda: quietly(long_line, file="<l>"))))
    print("| input | seconds (best of 3) |")
    print("|---|---:|")
    for name, s in rows:
        print(f"| {name} | {s:.3f} |")


if __name__ == "__main__":
    main()

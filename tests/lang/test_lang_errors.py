"""Each kind of mistake is reported at the right line and column, with a useful hint."""

import pytest

import sigmascene
from sigmascene import SigmaError

OK_SUBJECT = 'subject b {\n    ref "b.png"\n    box2d (0, 0, 1, 1)\n}\n'

CASES = [
    # (name, source, line, column, message fragment, hint fragment)
    ("misspelt statement", 'sigma 1\ncanvas 512 x 512\nsubjct a {\n}\n',
     3, 1, "unknown statement 'subjct'", "'subject'"),
    ("misspelt item", 'sigma 1\nsubject a {\n    ref "a.png"\n    bx2d (0, 0, 1, 1)\n}\n', 4, 5, "'bx2d'", "'box2d'"),
    ("misspelt block field", 'sigma 1\nsubject a {\n  ref "a"\n  box3d { center (0, 0, -1) sise (1, 1, 1) }\n}\n',
     4, 29, "'sise'", "'size'"),
    ("misspelt relation target", 'sigma 1\n' + OK_SUBJECT
     + 'subject a {\n  ref "a"\n  box2d (0, 0, 1, 1)\n  behind bb\n}\n',
     9, 10, "unknown subject 'bb'", "'b'"),
    ("unknown mention", 'sigma 1\ncompose "a @dgo and @b"\n' + OK_SUBJECT, 2, 12, "`@dgo`", None),
    ("missing version", 'canvas 512 x 512\n' + OK_SUBJECT, 1, 1, "sigma 1", "first line"),
    ("future version", 'sigma 3\n' + OK_SUBJECT, 1, 7, "sigma 3 is newer", "upgrade"),
    ("version not first", 'sigma 1\n' + OK_SUBJECT + 'sigma 1\n', 6, 1, "must be the first statement", None),
    ("canvas not multiple of 16", 'sigma 1\ncanvas 500 x 512\n' + OK_SUBJECT, 2, 8, "multiples of 16", None),
    ("canvas too large", 'sigma 1\ncanvas 8192 x 512\n' + OK_SUBJECT, 2, 8, "4096", None),
    ("canvas fractional", 'sigma 1\ncanvas 512.5 x 512\n' + OK_SUBJECT, 2, 8, "whole number", None),
    ("box2d inverted", 'sigma 1\nsubject a {\n  ref "a"\n  box2d (0.5, 0, 0.2, 1)\n}\n', 4, 3, "x0 < x1", None),
    ("box2d out of canvas", 'sigma 1\nsubject a {\n  ref "a"\n  box2d (0, 0, 1.5, 1)\n}\n', 4, 3, "[0, 1]", None),
    ("box2d px beyond canvas", 'sigma 1\ncanvas 256 x 256\nsubject a { ref "a" box2d (0, 0, 300 px, 1) }\n',
     3, 21, "[0, 1]", None),
    ("box2d arity", 'sigma 1\nsubject a {\n  ref "a"\n  box2d (0, 0, 1)\n}\n', 4, 9, "takes 4 numbers", None),
    ("box3d missing size", 'sigma 1\nsubject a {\n  ref "a"\n  box3d { center (0, 0, -2) }\n}\n',
     4, 3, "needs size", "size (w, h, d)"),
    ("box3d negative size", 'sigma 1\nsubject a { ref "a"\n box3d { center (0, 0, -2) size (1, -1, 1) } }\n',
     3, 33, "positive", None),
    ("wrong unit", 'sigma 1\nsubject a { ref "a" box2d (0, 0, 1, 1)\n  depth 3 deg }\n', 3, 11, "unit 'deg'", None),
    ("no ref", 'sigma 1\nsubject a {\n  box2d (0, 0, 1, 1)\n}\n', 2, 9, "no `ref`", 'ref "refs/a.png"'),
    ("no placement", 'sigma 1\nsubject a {\n  ref "a.png"\n}\n', 2, 9, "no placement", "box2d"),
    ("two placements", 'sigma 1\nsubject a {\n  ref "a"\n  box2d (0, 0, 1, 1)\n  mask "m.png"\n}\n',
     5, 3, "placement twice", "exactly one"),
    ("duplicate subject", 'sigma 1\n' + OK_SUBJECT + OK_SUBJECT, 6, 1, "defined twice", None),
    ("depth cycle",
     'sigma 1\nsubject a { ref "a" box2d (0,0,1,1) behind b }\nsubject b { ref "b" box2d (0,0,1,1)\n behind a }\n',
     2, 37, "cycle", None),
    ("self relation", 'sigma 1\nsubject a { ref "a" box2d (0,0,1,1) behind a }\n', 2, 37, "itself", None),
    ("unknown param", 'sigma 1\nsubject a { ref "a" box2d (0, 0, $w, 1) }\n', 2, 34, "unknown param $w", None),
    ("string param as number", 'sigma 1\nparam p = "x"\nsubject a { ref "a" box2d (0, 0, $p, 1) }\n',
     3, 34, "is a string", None),
    ("unclosed block", 'sigma 1\nsubject a {\n  ref "a"\n  box2d (0, 0, 1, 1)\n',
     4, 21, "end of file", "missing its `}`"),
    ("unquoted path", 'sigma 1\nsubject a {\n  ref a.png\n}\n', 3, 7, "unexpected 'a'", 'double quotes'),
    ("stray character", 'sigma 1\n' + OK_SUBJECT + '%\n', 6, 1, "'%'", None),
    ("bad escape", 'sigma 1\nprompt "a \\q"\n' + OK_SUBJECT, 2, 8, "bad escape", None),
    ("duplicate canvas", 'sigma 1\ncanvas 512 x 512\ncanvas 256 x 256\n' + OK_SUBJECT, 3, 1, "given twice", None),
    ("too many subjects", 'sigma 1\n' + "".join(f'subject s{i} {{ ref "r" box2d (0,0,1,1) }}\n' for i in range(26)),
     27, 1, "at most 25", None),
    ("no subjects", 'sigma 1\ncanvas 512 x 512\n', 1, 7, "at least one subject", None),
    ("polygon too few points", 'sigma 1\nsubject a { ref "a" polygon (0, 0) (1, 1) }\n', 2, 21, "at least 3", None),
    ("camera looks at itself", 'sigma 1\ncamera { position (1, 1, 1) look_at (1, 1, 1) }\n' + OK_SUBJECT,
     2, 1, "look_at", None),
]


@pytest.mark.parametrize("name,src,line,col,msg,hint", CASES, ids=[c[0] for c in CASES])
def test_error_is_located_with_hint(name, src, line, col, msg, hint):
    with pytest.raises(SigmaError) as exc:
        sigmascene.loads(src, file="scene.sigma")
    d = exc.value.diagnostics[0]
    assert msg in d.message, d.format()
    assert (d.loc.file, d.loc.line, d.loc.column) == ("scene.sigma", line, col), d.format()
    if hint:
        assert hint in (d.hint or ""), d.format()
    text = exc.value.format()
    assert text.startswith(f"scene.sigma:{line}:{col}: error: ")
    assert "\n    " + src.splitlines()[line - 1].expandtabs(1) + "\n" in text + "\n"
    assert "^" in text


def test_a_cycle_reports_every_relation_in_it():
    src = ('sigma 1\nsubject a { ref "a" box2d (0,0,1,1) behind b }\nsubject b { ref "b" box2d (0,0,1,1) }\n'
           'subject c { ref "c" box2d (0,0,1,1) in_front_of b\n  behind a }\n')
    with pytest.raises(SigmaError) as exc:
        sigmascene.loads(src, file="s.sigma")
    (d,) = [d for d in exc.value.diagnostics if "cycle" in d.message]
    lines = {d.loc.line} | {loc.line for _, loc in d.related}
    assert lines == {2, 4, 5}


def test_every_error_is_listed_in_one_run():
    src = ('sigma 1\ncanvas 500 x 512\nsubject a { ref "a" box2d (0.5, 0, 0.2, 1) }\n'
           'subject b { ref "b" box2d (0,0,1,1) depth 2 deg }\n')
    with pytest.raises(SigmaError) as exc:
        sigmascene.loads(src)
    assert len(exc.value.diagnostics) == 3


def test_include_cycle_is_reported_at_the_include(tmp_path):
    (tmp_path / "a.sigma").write_text('sigma 1\ninclude "b.sigma"\nsubject a { ref "a" box2d (0,0,1,1) }\n')
    (tmp_path / "b.sigma").write_text('include "a.sigma"\n')
    with pytest.raises(SigmaError) as exc:
        sigmascene.load(tmp_path / "a.sigma")
    d = exc.value.diagnostics[0]
    assert "include cycle" in d.message and d.loc.line == 1 and d.loc.file.endswith("b.sigma")


def test_missing_include_points_at_its_name(tmp_path):
    (tmp_path / "a.sigma").write_text('sigma 1\ninclude "nope.sigma"\nsubject a { ref "a" box2d (0,0,1,1) }\n')
    with pytest.raises(SigmaError) as exc:
        sigmascene.load(tmp_path / "a.sigma")
    d = exc.value.diagnostics[0]
    assert "no such scene file" in d.message and (d.loc.line, d.loc.column) == (2, 9)


def test_errors_in_an_included_file_point_into_that_file(tmp_path):
    (tmp_path / "a.sigma").write_text('sigma 1\ninclude "b.sigma"\n')
    (tmp_path / "b.sigma").write_text('subject b {\n  ref "b"\n  box2d (0, 0, 2, 1)\n}\n')
    with pytest.raises(SigmaError) as exc:
        sigmascene.load(tmp_path / "a.sigma")
    d = exc.value.diagnostics[0]
    assert d.loc.file.endswith("b.sigma") and d.loc.line == 3


def test_json_errors_are_machine_readable():
    import json

    with pytest.raises(SigmaError) as exc:
        sigmascene.loads('sigma 1\nsubjct a {}\n', file="x.sigma")
    (obj,) = json.loads(exc.value.to_json())
    assert (obj["file"], obj["line"], obj["column"]) == ("x.sigma", 2, 1)
    assert "subjct" in obj["message"]

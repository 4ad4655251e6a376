"""`check` reports every problem of a file in one run: the parser recovers from a syntax error at the next
statement, item or closing brace; errors that do not depend on the broken statement (values, missing files,
unknown names) are reported beside it; errors the broken statement causes are not; all in source order."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

import sigmascene
from sigmascene import SigmaError
from sigmascene.cli import app

from repo_paths import EXAMPLES

# The file that once took three `check` runs: a syntax error (line 10), value errors, a missing reference BEFORE
# the syntax error (line 5) and a misspelt name in a relation after it (line 21).
THREE_RUNS = """sigma 1
canvas 512 x 512
prompt "@dog sits by @cat"
subject cat {
  ref "refs/no_such_cat.png"
  box2d (0.1, 0.1, 0.5, 0.9)
}
subject dog {
  ref "refs/corgi.png"
  box2d (0.5, 0.1 0.9, 0.9)
}
subject lamp {
  ref "refs/corgi.png"
  box2d (0.5, 0.1, 1.5, 0.9)
}
subject rug {
  ref "refs/corgi.png"
  box2d (0.0, 0.8, 1.0, 1.0)
  in_front_of dog
  in_front_of lamp
  behind dgo
}
"""


@pytest.fixture
def scene_dir(tmp_path):
    shutil.copytree(EXAMPLES / "refs", tmp_path / "refs")
    return tmp_path


def test_the_three_run_file_is_checked_in_one_run(scene_dir):
    f = scene_dir / "room.sigma"
    f.write_text(THREE_RUNS)
    res = CliRunner().invoke(app, ["check", str(f)])
    assert res.exit_code == 1
    err = res.stderr
    located = [line.split(": error: ") for line in err.splitlines() if ": error: " in line]
    where = [(int(loc.split(":")[-2]), msg) for loc, msg in located]
    assert [line for line, _ in where] == [5, 10, 14, 21], err  # in source order
    assert "reference file not found" in where[0][1]  # before the syntax error
    assert where[1][1].startswith("unexpected '0.9'")  # the syntax error
    assert "must lie in [0, 1]" in where[2][1]  # a value error after it
    assert "unknown subject 'dgo'" in where[3][1]  # a name error after it
    assert "4 errors" in res.output


def test_json_lists_the_same_errors(scene_dir):
    f = scene_dir / "room.sigma"
    f.write_text(THREE_RUNS)
    res = CliRunner().invoke(app, ["check", "--json", str(f)])
    assert res.exit_code == 1
    found = json.loads(res.stdout)
    assert [d["line"] for d in found] == [5, 10, 14, 21]
    assert {"file", "line", "column", "severity", "message", "hint", "related"} <= set(found[0])


def test_a_subject_cut_by_a_syntax_error_is_not_also_unknown(scene_dir):
    """`dog`'s block failed to parse: `rug in_front_of dog` and `@dog` in the prompt are no new mistakes."""
    with pytest.raises(SigmaError) as err:
        sigmascene.loads(THREE_RUNS, base_dir=scene_dir)
    text = err.value.format()
    assert "unknown subject 'dog'" not in text and "`@dog`" not in text
    assert "no placement" not in text and "box2d takes" not in text  # nor is what is left of it


@pytest.mark.parametrize("broken,expect", [
    ('canvas 512 x\n', "unexpected 'camera'"),  # an incomplete statement before the next keyword
    ('subjec owl { ref "refs/corgi.png" box2d (0, 0, 1, 1) }\n', "unknown statement 'subjec'"),
    ('subject owl { ref "refs/corgi.png" colour "red" box2d (0, 0, 1, 1) }\n', "unexpected 'colour'"),
    ('subject owl { ref "refs/corgi.png" box3d { center (0, 0, -2) sise (1, 1, 1) } }\n', "unexpected 'sise'"),
    ('subject owl { ref "refs/corgi.png" box2d (0, 0, 1, 1)\n', "missing its closing"),  # a `}` is missing
])
def test_recovery_resumes_and_still_reports_what_follows(scene_dir, broken, expect):
    text = ("sigma 1\n" + broken + "camera { position (0, 1.6, 4) look_at (0, 0.8, 0) fov 55 }\n"
            'subject cat { ref "refs/cat.png" box2d (0, 0, 2, 1) }\n'
            'subject dog { ref "refs/corgi.png" box2d (0, 0, 1, 1) behind owl behind cta }\n')
    with pytest.raises(SigmaError) as err:
        sigmascene.loads(text, base_dir=scene_dir, file="s.sigma")
    diags = err.value.diagnostics
    text_out = err.value.format()
    assert expect in text_out
    assert "must lie in [0, 1]" in text_out  # a value error after the syntax error
    assert "unknown subject 'cta'" in text_out and "did you mean 'cat'" in text_out  # a name error after it
    # the subject the syntax error cut is not "unknown" (where there is none, the name is a real mistake)
    assert ("unknown subject 'owl'" in text_out) == ("owl" not in broken)
    assert sum(d.message.startswith(("unexpected", "unknown statement")) for d in diags) == 1  # no cascade
    lines = [d.loc.line for d in diags if d.loc is not None]
    assert lines == sorted(lines)


def test_end_of_file_inside_a_block_is_one_error():
    with pytest.raises(SigmaError) as err:
        sigmascene.loads('sigma 1\nsubject a { ref "a.png" box2d (0, 0, 1, 1)\n', file="s.sigma")
    assert [d.message.split(",")[0] for d in err.value.diagnostics] == ["unexpected end of file"]


def test_a_file_of_junk_is_a_bounded_list_of_errors():
    junk = "sigma 1\n" + "wibble { } ? ( ) ) } {\n" * 500
    with pytest.raises(SigmaError) as err:
        sigmascene.loads(junk, file="junk.sigma")
    assert 1 <= len(err.value.diagnostics) <= 62


def test_every_example_still_checks_clean():
    res = CliRunner().invoke(app, ["check", *map(str, sorted(EXAMPLES.glob("*.sigma")))])
    assert res.exit_code == 0, res.output


def test_a_misspelt_name_inside_a_cut_subject_is_still_reported():
    """The syntax error is in `owl`'s box3d; its own `in_front_of dgo` is a separate mistake (and `behind owl`
    elsewhere is not one)."""
    text = ('sigma 1\nsubject dog { ref "a.png" box2d (0, 0, 1, 1) }\n'
            'subject owl {\n  ref "a.png"\n  box3d { center (0, 0, -2) size (1, 1, 1) yaw 30 dgr }\n'
            '  in_front_of dgo\n}\n'
            'subject bee { ref "a.png" box2d (0, 0, 1, 1) behind owl }\n')
    with pytest.raises(SigmaError) as err:
        sigmascene.loads(text, file="s.sigma")
    found = [(d.loc.line if d.loc else None, d.message.split(",")[0]) for d in err.value.diagnostics]
    assert found == [(5, "unexpected 'dgr'"), (6, "unknown subject 'dgo' in `in_front_of`")]
    assert err.value.diagnostics[1].hint == "did you mean 'dog'?"


def test_a_subject_that_failed_on_a_value_still_has_its_relations_checked():
    text = ('sigma 1\nsubject a { ref "a.png" box2d (0, 0, 1, 1) }\n'
            'subject b { ref "a.png" box2d (0, 0, 2, 1) behind zz in_front_of a }\n'
            'subject c { ref "a.png" box2d (0, 0, 1, 1) behind b }\n')
    with pytest.raises(SigmaError) as err:
        sigmascene.loads(text, file="s.sigma")
    messages = [d.message for d in err.value.diagnostics]
    assert len(messages) == 2 and "must lie in [0, 1]" in messages[0]
    assert messages[1] == "unknown subject 'zz' in `behind`"  # and `behind b` (b failed) is not "unknown"

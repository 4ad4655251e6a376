"""`sigmascene check` and `sigmascene fmt` behave like a compiler and like black."""

import json
import shutil

from typer.testing import CliRunner

from sigmascene.cli import app

from repo_paths import EXAMPLES

runner = CliRunner()


def test_check_prints_ok_for_every_example():
    files = [str(p) for p in sorted(EXAMPLES.glob("*.sigma"))]
    res = runner.invoke(app, ["check", *files])
    assert res.exit_code == 0, res.output
    assert res.output.count(": ok") == len(files)


def test_check_points_at_a_typo_with_a_hint(tmp_path):
    f = tmp_path / "typo.sigma"
    f.write_text('sigma 1\nsubject dog {\n    ref "dog.png"\n    bx2d (0, 0, 1, 1)\n}\n')
    res = runner.invoke(app, ["check", str(f)])
    assert res.exit_code == 1
    assert f"{f}:4:5: error:" in res.output
    assert "    bx2d (0, 0, 1, 1)\n        ^" in res.output
    assert "did you mean 'box2d'?" in res.output
    assert "Traceback" not in res.output


def test_check_json_gives_file_line_column_message(tmp_path):
    f = tmp_path / "bad.sigma"
    f.write_text('sigma 1\ncanvas 500 x 512\nsubject a { ref "a" box2d (0, 0, 1, 1) }\n')
    res = runner.invoke(app, ["check", "--json", str(f)])
    assert res.exit_code == 1
    err, missing = json.loads(res.stdout)  # the language error, then the reference file "a" it names
    assert (err["file"], err["line"], err["column"]) == (str(f), 2, 8)
    assert "multiple" in err["message"]
    assert (missing["line"], missing["column"]) == (3, 17) and "reference file not found" in missing["message"]


def test_check_set_overrides_a_param():
    res = runner.invoke(app, ["check", str(EXAMPLES / "living_room.sigma"), "--set", "rug_x=-0.2"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["check", str(EXAMPLES / "living_room.sigma"), "--set", "rugx=-0.2"])
    assert res.exit_code == 1 and "did you mean 'rug_x'" in res.output
    res = runner.invoke(app, ["check", str(EXAMPLES / "living_room.sigma"), "--set", "nonsense"])
    assert res.exit_code == 1 and "NAME=VALUE" in res.output


def test_check_never_shows_a_traceback_for_unreadable_inputs(tmp_path):
    (tmp_path / "bin.sigma").write_bytes(b"\xff\xfe\x00garbage")
    (tmp_path / "dir.sigma").mkdir()
    for name in ("bin.sigma", "dir.sigma", "missing.sigma"):
        res = runner.invoke(app, ["check", str(tmp_path / name)])
        assert res.exit_code == 1, name
        assert "error:" in res.output and res.exception is None or isinstance(res.exception, SystemExit), name


def test_fmt_check_fails_on_unformatted_file_and_fmt_fixes_it_idempotently(tmp_path):
    f = tmp_path / "messy.sigma"
    f.write_text('sigma 1   # version\ncanvas 512 x 512 subject a {box2d (0,0,1,1) ref "a.png"\n'
                 '# the depth\ndepth 2}\n')
    res = runner.invoke(app, ["fmt", "--check", str(f)])
    assert res.exit_code == 1 and "would reformat" in res.output
    before = f.read_text()
    assert f.read_text() == before  # --check changes nothing
    res = runner.invoke(app, ["fmt", str(f)])
    assert res.exit_code == 0
    formatted = f.read_text()
    assert formatted == ('sigma 1  # version\ncanvas 512 x 512\n\n'
                         'subject a {\n    ref "a.png"\n    box2d (0, 0, 1, 1)\n'
                         '    # the depth\n    depth 2\n}\n')
    assert runner.invoke(app, ["fmt", "--check", str(f)]).exit_code == 0
    runner.invoke(app, ["fmt", str(f)])
    assert f.read_text() == formatted


def test_fmt_refuses_to_touch_a_file_with_errors(tmp_path):
    f = tmp_path / "broken.sigma"
    f.write_text('sigma 1\nsubject a { ref "a" box2d (0, 0, 1 }\n')
    before = f.read_text()
    res = runner.invoke(app, ["fmt", str(f)])
    assert res.exit_code == 1 and "error:" in res.output
    assert f.read_text() == before


def test_fmt_check_passes_on_the_examples(tmp_path):
    for p in EXAMPLES.glob("*.sigma"):
        shutil.copy(p, tmp_path / p.name)
    shutil.copytree(EXAMPLES / "refs", tmp_path / "refs")
    res = runner.invoke(app, ["fmt", "--check", *map(str, sorted(tmp_path.glob("*.sigma")))])
    assert res.exit_code == 0, res.output

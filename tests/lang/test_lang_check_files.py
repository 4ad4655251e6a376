"""`check` checks the files a scene names (exist, decode from the header) and reports every problem in one run;
`--syntax-only` checks the language alone; diagnostics go to stderr like `compile`'s."""

import json
import shutil

from typer.testing import CliRunner

from sigmascene.cli import app
from sigmascene.compiler.filecheck import check_scene_file

from repo_paths import EXAMPLES

runner = CliRunner()

SCENE = '''sigma 1
canvas 512 x 512
subject corgi {
    ref "refs/corgy.png"
    box2d (0.1, 0.1, 0.5, 0.5)
}
subject lamp {
    ref "refs/lamp.png"
    mask "masks/nothere.png"
}
subject chair {
    ref "notes.txt"
    box2d (0.5, 0.4, 0.9, 0.95)
    depth_map "depth.npy"
}
'''


def _scene(tmp_path):
    shutil.copytree(EXAMPLES / "refs", tmp_path / "refs")
    (tmp_path / "notes.txt").write_text("not a picture")
    f = tmp_path / "files.sigma"
    f.write_text(SCENE)
    return f


def test_check_catches_a_misspelled_reference_with_a_did_you_mean_and_every_other_file_problem(tmp_path):
    f = _scene(tmp_path)
    res = runner.invoke(app, ["check", str(f)])
    assert res.exit_code == 1
    assert f"{f}:4:9: error: reference file not found" in res.stderr
    assert "did you mean 'corgi.png'?" in res.stderr
    assert f"{f}:9:10: error: mask file not found" in res.stderr
    assert f"{f}:12:9: error: reference is not an image" in res.stderr
    assert f"{f}:14:15: error: depth map file not found" in res.stderr
    assert "4 errors" in res.stderr and "ok" not in res.stdout


def test_check_syntax_only_keeps_the_language_check_alone(tmp_path):
    f = _scene(tmp_path)
    res = runner.invoke(app, ["check", "--syntax-only", str(f)])
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == f"{f}: ok"


def test_check_json_lists_file_problems_with_every_documented_field(tmp_path):
    f = _scene(tmp_path)
    res = runner.invoke(app, ["check", "--json", str(f)])
    problems = json.loads(res.stdout)
    assert len(problems) == 4
    assert set(problems[0]) == {"file", "line", "column", "severity", "message", "hint", "related"}
    help_text = runner.invoke(app, ["check", "--help"], terminal_width=200).stdout
    for name in problems[0]:
        assert name in help_text


def test_file_check_reads_headers_only_and_flags_a_truncated_or_empty_image(tmp_path):
    (tmp_path / "refs").mkdir()
    png = (EXAMPLES / "refs" / "corgi.png").read_bytes()
    (tmp_path / "refs" / "half.png").write_bytes(png[: len(png) // 2])  # header intact: `compile` finds it
    (tmp_path / "refs" / "empty.png").write_bytes(b"")
    f = tmp_path / "s.sigma"
    f.write_text('sigma 1\nsubject a { ref "refs/half.png" box2d (0, 0, 1, 1) }\n'
                 'subject b { ref "refs/empty.png" box2d (0, 0, 1, 1) }\n')
    (problem,) = check_scene_file(f)
    assert "empty" in problem.message or "not an image" in problem.message


def test_check_reports_language_errors_on_stderr_and_ok_on_stdout():
    res = runner.invoke(app, ["check", str(EXAMPLES / "toy_room.sigma")])
    assert res.exit_code == 0 and res.stdout.strip().endswith(": ok") and res.stderr == ""


def test_check_reports_a_typo_and_a_missing_reference_in_one_run(tmp_path):
    shutil.copytree(EXAMPLES / "refs", tmp_path / "refs")
    f = tmp_path / "typo.sigma"
    # language errors found while building the Scene (a unit typo, an unknown subject) and missing files, all
    # in one run (syntax errors too: tests/lang/test_check_recovery.py)
    f.write_text(SCENE.replace("box2d (0.1, 0.1, 0.5, 0.5)", "box2d (0.1, 0.1, 0.5, 0.5)\n    depth 2 deg")
                 .replace('mask "masks/nothere.png"', 'mask "masks/nothere.png"\n    behind nobody'))
    found = check_scene_file(f)
    text = "\n".join(d.format() for d in found)
    lines = [d.loc.line for d in found if d.loc is not None]
    assert lines == sorted(lines)  # in source order, language and file errors alike
    assert "corgy.png" in text and "did you mean" in text and "nothere.png" in text and "notes.txt" in text
    assert all(d.loc is not None and d.loc.file == str(f) for d in found)
    res = runner.invoke(app, ["check", str(f)])
    assert res.exit_code == 1 and "corgy.png" in res.stderr and "Traceback" not in res.output


def test_check_with_language_errors_still_skips_paths_outside_a_confined_root(tmp_path):
    (tmp_path / "scene").mkdir()
    f = tmp_path / "scene" / "s.sigma"
    f.write_text('sigma 1\ncanvas 64 x 64\nsubject a {\n    ref "../outside.png"\n    box2d (0, 0, 1, 1)\n'
                 '    bogus 1\n}\n')
    found = check_scene_file(f, root=True)
    outside = [d for d in found if "outside.png" in d.message]
    assert len(outside) <= 1 and all("not found" not in d.message and "does not exist" not in d.message
                                     for d in outside)


def test_check_refuses_a_decompression_bomb_with_the_loaders_own_message(tmp_path):
    from sigmascene.compiler.assets import MAX_PIXELS
    from sigmascene.testing.files import png_claiming_size

    bomb = tmp_path / "bomb.png"  # a tiny PNG whose header claims 30000 x 30000 pixels
    png_claiming_size(bomb, 30000, 30000)
    f = tmp_path / "s.sigma"
    f.write_text('sigma 1\ncanvas 64 x 64\nsubject a { ref "bomb.png" box2d (0, 0, 1, 1) }\n')
    (problem,) = check_scene_file(f)
    assert f"{MAX_PIXELS // 1_000_000} megapixel limit" in problem.message and problem.loc.line == 3


def test_check_and_compile_refuse_a_depth_map_of_an_unknown_format_with_one_message(tmp_path):
    import pytest

    from sigmascene.compiler import compile_scene
    from sigmascene.errors import AssetError
    from sigmascene.grammar import load

    shutil.copytree(EXAMPLES / "refs", tmp_path / "refs")
    (tmp_path / "depth.jpg").write_bytes((EXAMPLES / "refs" / "corgi.png").read_bytes())
    f = tmp_path / "s.sigma"
    f.write_text('sigma 1\ncanvas 64 x 64\nsubject a { ref "refs/corgi.png" box2d (0, 0, 1, 1) '
                 'depth_map "depth.jpg" }\n')
    (checked,) = check_scene_file(f)
    with pytest.raises(AssetError) as compiled:
        compile_scene(load(f))
    assert checked.message == compiled.value.diagnostics[0].message and "got depth.jpg" in checked.message
    assert checked.loc == compiled.value.diagnostics[0].loc

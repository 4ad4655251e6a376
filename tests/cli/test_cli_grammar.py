"""One command-line grammar: help keeps its bracketed text, `--version`, -o/--out for every output option (old
spellings hidden), dataset folders positional across `data`, and every --dtype lists the loader's one table."""

from typer.main import get_command
from typer.testing import CliRunner

from sigmascene import __version__
from sigmascene.cli import app
from sigmascene.model.loading import DTYPES

runner = CliRunner()
ROOT = get_command(app)


def _commands(cmd=ROOT, path=()):
    if hasattr(cmd, "list_commands"):
        for name in cmd.list_commands(None):
            yield from _commands(cmd.get_command(None, name), (*path, name))
    else:
        yield path, cmd


def test_help_keeps_bracketed_text():
    assert "[env SIGMASCENE_BASE]" in runner.invoke(app, ["eval", "run", "--help"]).stdout
    assert "[weights]" in runner.invoke(app, ["eval", "score", "--help"]).stdout


def test_version_prints_the_package_version():
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and res.stdout.strip() == f"sigmascene {__version__}"


def test_every_output_option_is_spelled_o_and_out():
    for path, cmd in _commands():
        for p in cmd.params:
            opts = getattr(p, "opts", [])
            if p.param_type_name != "option" or not ({"-o", "--out", "--output"} & set(opts)):
                continue
            if path == ("render",) and "--out" not in opts:
                continue  # render's -o/--out comes with D17's rewrite of cli/render.py (issue 21 item 8)
            assert {"-o", "--out"} <= set(opts), (path, opts)
            assert not p.hidden or path == ("data", "synth"), (path, opts)


def test_data_commands_take_their_input_folder_positionally_and_synth_keeps_out_hidden(tmp_path):
    for path, cmd in _commands():
        # `data build` reads no dataset: it makes one from --config into --out (issue 15's spelling)
        if path[:1] == ("data",) and path != ("data", "build"):
            assert any(p.param_type_name == "argument" for p in cmd.params), path
    help_text = runner.invoke(app, ["data", "synth", "--help"]).stdout
    assert "DIR" in help_text and "--out" not in help_text
    res = runner.invoke(app, ["data", "synth", "--out", str(tmp_path / "w"), "--count", "1", "--size", "64",
                              "--workers", "1"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "w" / "index.jsonl").read_text().count("\n") == 1


def test_every_dtype_option_lists_the_loaders_table():
    seen = 0
    for path, cmd in _commands():
        for p in cmd.params:
            if "--dtype" in getattr(p, "opts", []):
                seen += 1
                assert all(d in p.help for d in DTYPES), (path, p.help)
    assert seen >= 3

"""`eval toyworld --docs DIR` never silently replaces files already there (the repository's docs/ are tracked):
it refuses up front, before any rendering, unless --force."""

from typer.testing import CliRunner

from sigmascene.cli import app
from sigmascene.cli.eval_cmd import DOCS_FILES, _refuse_to_replace

runner = CliRunner()


def test_toyworld_refuses_to_replace_docs_files_without_force(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "toyworld-table.md").write_text("the published table\n")
    res = runner.invoke(app, ["eval", "toyworld", "--validate", "--count", "1", "--subjects", "1",
                              "--out", str(tmp_path / "tw"), "--docs", str(docs)])
    assert res.exit_code == 1
    assert "would replace" in res.output and "--force" in res.output
    assert (docs / "toyworld-table.md").read_text() == "the published table\n"
    assert not (tmp_path / "tw").exists()  # refused before making anything


def test_toyworld_docs_check_passes_for_a_new_folder_or_with_force(tmp_path):
    _refuse_to_replace(tmp_path / "new", force=False)
    for name in DOCS_FILES:
        (tmp_path / name).write_text("x")
    _refuse_to_replace(tmp_path, force=True)

"""The shared vocabulary on the ground floor: files written whole with the umask's mode, one routing step,
one `--subjects` parser, one dtype table."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import sigmascene
from sigmascene.cli import app
from sigmascene.errors import ConfigError, SigmaError
from sigmascene.core.files import atomic_path, make_dir_beside, save_image_atomic, write_bytes_atomic, write_text_atomic
from sigmascene.core.vocab import (MAX_SUBJECTS, ROUTING_STEP, parse_subject_counts, parse_subject_range,
                              routing_intensity, subject_of)


@pytest.fixture
def umask():
    """Run a test under a given umask, restoring the process's own afterwards."""
    old = os.umask(0o022)
    os.umask(old)
    yield lambda value: os.umask(value)
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_a_written_file_mode_follows_the_umask(tmp_path, umask, mask):
    umask(mask)
    write_text_atomic(tmp_path / "a.txt", "hello\n")
    save_image_atomic(Image.new("RGB", (4, 4)), tmp_path / "b.png")
    folder = make_dir_beside(tmp_path / "c", "tmp")
    assert _mode(tmp_path / "a.txt") == 0o666 & ~mask
    assert _mode(tmp_path / "b.png") == 0o666 & ~mask
    assert _mode(folder) == 0o777 & ~mask


def test_files_the_cli_writes_honour_the_umask(tmp_path, umask):
    umask(0o002)  # a group-shared project: files must stay group-writable, not tempfile's 0600
    (tmp_path / "refs").mkdir()
    Image.new("RGB", (32, 32), (200, 30, 30)).save(tmp_path / "refs" / "a.png")
    scene = tmp_path / "s.sigma"
    scene.write_text('sigma 1\ncanvas 64 x 64\nprompt "room"\nsubject a {\n  ref "refs/a.png"\n'
                     '  box2d (0.1, 0.1, 0.5, 0.5)\n}\n')
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["compile", str(scene), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert _mode(out) == 0o775
    assert {p.name: _mode(p) for p in out.iterdir()} == {n: 0o664 for n in ("control.png", "identity.png",
                                                                               "manifest.json")}
    res = CliRunner().invoke(app, ["preview", str(scene), "-o", str(tmp_path / "p.png")])
    assert res.exit_code == 0, res.output
    assert _mode(tmp_path / "p.png") == 0o664


def test_replacing_a_file_keeps_its_own_mode(tmp_path, umask):
    umask(0o022)
    target = tmp_path / "scene.sigma"
    target.write_text("old")
    target.chmod(0o600)  # the user made it private: a rewrite must not open it up
    write_text_atomic(target, "new")
    assert target.read_text() == "new" and _mode(target) == 0o600


def test_a_failed_write_leaves_the_old_file_and_no_debris(tmp_path):
    target = tmp_path / "data.bin"
    write_bytes_atomic(target, b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("crash mid-write")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.bin"]


def test_the_compiler_writes_subjects_at_the_shared_routing_step(tmp_path):
    ref = tmp_path / "a.png"
    Image.new("RGB", (32, 32), (200, 30, 30)).save(ref)
    scene = sigmascene.loads('sigma 1\ncanvas 64 x 64\nprompt "room"\n'
                             'subject far {\n  ref "a.png"\n  box2d (0.0, 0.0, 0.5, 0.5)\n  depth 5\n}\n'
                             'subject near {\n  ref "a.png"\n  box2d (0.5, 0.5, 1.0, 1.0)\n  depth 2\n}\n',
                             base_dir=tmp_path)
    compiled = sigmascene.compile(scene)
    values = sorted(int(v) for v in set(np.unique(compiled.ir_asc)) - {0})
    assert values == [routing_intensity(1), routing_intensity(2)] == [ROUTING_STEP, 2 * ROUTING_STEP]
    assert [subject_of(v) for v in values] == [1, 2]
    assert [s["intensity"] for s in compiled.manifest["subjects"]] == values


def test_the_subject_limit_fits_the_routing_map_in_eight_bits():
    assert routing_intensity(MAX_SUBJECTS) <= 255 < routing_intensity(MAX_SUBJECTS + 1) + ROUTING_STEP


@pytest.mark.parametrize("text, counts", [("1-4", [1, 2, 3, 4]), ("7", [7]), ("5,1,2", [1, 2, 5]),
                                          (" 3-3 ", [3]), (f"1-{MAX_SUBJECTS}", list(range(1, MAX_SUBJECTS + 1)))])
def test_subject_counts_parse(text, counts):
    assert parse_subject_counts(text) == counts


@pytest.mark.parametrize("text, words", [("5-2", "empty range"), ("1-40", "1-25"), ("0-3", "1-25"),
                                         ("x", "not a count"), ("", "not a count"), ("-3", "1-25")])
def test_bad_subject_counts_are_config_errors(text, words):
    with pytest.raises(ConfigError, match=words):
        parse_subject_counts(text)


def test_a_generator_range_takes_no_list():
    assert parse_subject_range("2-6") == (2, 6)
    assert parse_subject_range("4") == (4, 4)
    with pytest.raises(SigmaError, match="not a count"):
        parse_subject_range("1,5")


def test_every_dtype_option_derives_from_the_one_table():
    torch = pytest.importorskip("torch")
    from sigmascene.model.loading import DTYPE_HELP, DTYPES, TORCH_DTYPES, compute_dtype, torch_dtype
    from sigmascene.train.components import DTYPES as TRAIN_DTYPES

    assert set(TRAIN_DTYPES) == set(TORCH_DTYPES) and set(TORCH_DTYPES) < set(DTYPES)
    assert all(name in DTYPE_HELP for name in DTYPES)
    assert torch_dtype("bf16") is torch.bfloat16 and TRAIN_DTYPES["fp16"] is torch.float16
    cpu = torch.device("cpu")
    assert compute_dtype("auto", cpu) is torch.float32 and compute_dtype("fp8", cpu) is torch.bfloat16
    for command in (["render", "--help"], ["eval", "run", "--help"]):
        res = CliRunner().invoke(app, command, env={"COLUMNS": "400"})
        assert " | ".join(DTYPES) in res.output, command

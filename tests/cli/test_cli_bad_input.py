"""Bad input found by a black-box sweep of every command: each gets one clear error (a SigmaError kind, exit 1),
never a traceback, and nothing the user made is overwritten without asking."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from sigmascene.cli import app
from sigmascene.data.recipe import load_config as load_build_config
from sigmascene.data.recipe import write_default as write_build_default
from sigmascene.errors import ConfigError
from sigmascene.train.config_file import default_toml, load_config

runner = CliRunner()


def _clean_failure(res) -> str:
    """The command failed with exit 1 and a message, not a Python traceback."""
    out = res.output + (res.stderr if res.stderr_bytes is not None else "")
    assert res.exit_code == 1, out
    assert "Traceback" not in out and not isinstance(res.exception, (ValueError, UnicodeDecodeError)), out
    return out


# -- config files (train.toml, build.toml) -------------------------------------------------------------------


def test_a_config_that_is_not_utf8_is_a_located_config_error_not_a_traceback(tmp_path):
    path = tmp_path / "cfg.toml"
    path.write_bytes(b"[run]\nseed = 1\nname = \"caf\xe9\"\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    d = err.value.diagnostics[0]
    assert "not UTF-8" in d.message and d.loc is not None and (d.loc.line, d.loc.column) == (3, 12)
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_build_config(path)


def test_a_config_saved_with_a_bom_and_crlf_line_ends_reads_like_any_other(tmp_path):
    path = tmp_path / "cfg.toml"
    path.write_bytes(b"\xef\xbb\xbf" + default_toml().replace("\n", "\r\n").encode())
    assert load_config(path).optim.grad_accum == 1


def test_a_build_config_that_is_a_folder_says_so(tmp_path):
    with pytest.raises(ConfigError, match="is a folder"):
        load_build_config(tmp_path)


@pytest.mark.parametrize("setting", ["optim.lr=inf", "lora.alpha=inf", "optim.lr=1e309", "model.guidance=nan",
                                     "run.seed=-5", "run.seed=99999999999999999999999",
                                     "validation.seed=18446744073709551615", "lora.rank=99999999999999999999"])
def test_train_settings_that_crashed_or_trained_nan_weights_are_refused(tmp_path, setting):
    path = tmp_path / "cfg.toml"
    path.write_text(default_toml())
    with pytest.raises(ConfigError) as err:
        load_config(path, [setting])
    assert f"(from --set {setting})" in err.value.format()


@pytest.mark.parametrize("line", ["subjects = [nan, 1.0]", "subjects = [inf, 1.0]", "seed = -4"])
def test_build_settings_that_crashed_numpy_are_located_config_errors(tmp_path, line):
    path = write_build_default(tmp_path / "build.toml")
    text = path.read_text()
    key = line.split(" =")[0]
    old = next(ln for ln in text.splitlines() if ln.startswith(f"{key} = "))
    path.write_text(text.replace(old, line, 1))
    with pytest.raises(ConfigError) as err:
        load_build_config(path)
    d = err.value.diagnostics[0]
    assert d.loc is not None and d.loc.file == str(path) and f"build.{key}" in d.message


def test_data_build_with_a_binary_config_is_one_error(tmp_path):
    junk = tmp_path / "junk.toml"
    junk.write_bytes(bytes(range(128, 256)) * 4)
    out = _clean_failure(runner.invoke(app, ["data", "build", "-c", str(junk), "-o", str(tmp_path / "ds")]))
    assert "not UTF-8" in out


# -- render and preview outputs --------------------------------------------------------------------------------


@pytest.fixture
def scene(env, examples_dir):
    import shutil

    shutil.copytree(examples_dir / "refs", env / "refs")
    shutil.copy(examples_dir / "two_boxes.sigma", env / "s.sigma")
    return env / "s.sigma"


def test_render_refuses_to_overwrite_a_users_image_and_json_before_loading_any_model(scene):
    (scene.parent / "photo.png").write_bytes(b"my holiday")
    (scene.parent / "photo.json").write_text('{"mine": 1}')
    out = _clean_failure(runner.invoke(app, ["render", str(scene), "-o", str(scene.parent / "photo.png"),
                                             "--base", str(scene.parent / "no-model")]))
    assert "refusing to overwrite" in out and "--force" in out
    assert (scene.parent / "photo.png").read_bytes() == b"my holiday"
    assert (scene.parent / "photo.json").read_text() == '{"mine": 1}'


def test_render_output_that_is_a_folder_or_under_a_file_fails_before_rendering(scene):
    (scene.parent / "out.png").mkdir()
    out = _clean_failure(runner.invoke(app, ["render", str(scene), "-o", str(scene.parent / "out.png")]))
    assert "is a folder" in out
    (scene.parent / "notes.txt").write_text("x")
    out = _clean_failure(runner.invoke(app, ["render", str(scene), "-o", str(scene.parent / "notes.txt" / "a.png")]))
    assert "is a file, not a folder" in out


def test_an_earlier_render_is_replaced_but_a_foreign_sidecar_is_not(tmp_path):
    from sigmascene.cli.outputs import refuse_foreign_renders

    img = tmp_path / "r.png"
    img.write_bytes(b"png")
    img.with_suffix(".json").write_text(json.dumps({"image": "r.png", "versions": {"sigmascene": "0.1.0"}}))
    refuse_foreign_renders([img], force=False)  # ours: no error
    img.with_suffix(".json").write_text(json.dumps({"image": "other.png", "versions": {"sigmascene": "0.1.0"}}))
    with pytest.raises(ConfigError):
        refuse_foreign_renders([img], force=False)
    refuse_foreign_renders([img], force=True)


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_render_guidance_nan_or_inf_is_refused_instead_of_a_blank_image(scene, value):
    out = _clean_failure(runner.invoke(app, ["render", str(scene), "-o", str(scene.parent / "x.png"),
                                             "--guidance", value]))
    assert "--guidance must be a finite number" in out
    assert not (scene.parent / "x.png").exists()


def test_render_seed_beyond_the_languages_range_is_refused_not_an_overflow_traceback(scene):
    out = _clean_failure(runner.invoke(app, ["render", str(scene), "--seed", "99999999999999999999999"]))
    assert "seed 99999999999999999999999 is too large: the largest is 9007199254740992" in out


def test_a_scene_seed_too_large_to_read_exactly_is_located(tmp_path):
    f = tmp_path / "s.sigma"
    f.write_text('sigma 1\ncanvas 64 x 64\nseed 99999999999999999999999\nsubject a {\n    box2d (0, 0, 1, 1)\n}\n')
    out = _clean_failure(runner.invoke(app, ["check", "--syntax-only", str(f)]))
    assert f"{f}:3:6: error: seed 99999999999999999999999 is too large" in out


def test_preview_keeps_a_users_png_and_replaces_its_own(scene):
    mine = scene.parent / "mine.png"
    mine.write_bytes(b"not ours")
    out = _clean_failure(runner.invoke(app, ["preview", str(scene), "-o", str(mine)]))
    assert "refusing to overwrite" in out and mine.read_bytes() == b"not ours"
    ours = scene.parent / "ours.png"
    for _ in range(2):  # the second run replaces the first run's preview
        res = runner.invoke(app, ["preview", str(scene), "-o", str(ours)])
        assert res.exit_code == 0, res.output
    assert runner.invoke(app, ["preview", str(scene), "-o", str(mine), "--force"]).exit_code == 0
    assert mine.read_bytes().startswith(b"\x89PNG")


# -- folders and files in the wrong place --------------------------------------------------------------------


def test_a_file_where_a_folder_is_needed_is_named_not_reported_as_file_exists(tmp_path):
    blocker = tmp_path / "taken"
    blocker.write_text("mine")
    out = _clean_failure(runner.invoke(app, ["data", "synth", str(blocker), "-n", "1", "--size", "32"]))
    assert f"{blocker} is a file, not a folder" in out and "File exists" not in out
    assert blocker.read_text() == "mine"


def test_data_build_out_that_is_a_file_is_refused_before_models_load(tmp_path):
    cfg = write_build_default(tmp_path / "build.toml")  # its model folders do not exist: the check comes first
    (tmp_path / "ds").write_text("mine")
    out = _clean_failure(runner.invoke(app, ["data", "build", "-c", str(cfg), "-o", str(tmp_path / "ds")]))
    assert "is a file, not a dataset folder" in out


@pytest.mark.parametrize("kind", ["file", "missing"])
def test_root_that_is_not_a_folder_says_so_instead_of_outside_the_allowed_folder(scene, kind):
    root = scene if kind == "file" else scene.parent / "nowhere"
    out = _clean_failure(runner.invoke(app, ["check", str(scene), "--root", str(root)]))
    assert f"--root {root} is" in out and "outside the allowed folder" not in out


def test_fmt_through_a_symlink_formats_the_target_and_keeps_the_link(tmp_path):
    target = tmp_path / "real.sigma"
    target.write_text('sigma 1\ncanvas 64 x 64\nprompt   "x"\n')
    link = tmp_path / "link.sigma"
    link.symlink_to(target.name)
    res = runner.invoke(app, ["fmt", str(link)])
    assert res.exit_code == 0, res.output
    assert link.is_symlink() and target.read_text() == 'sigma 1\ncanvas 64 x 64\nprompt "x"\n'


@pytest.mark.parametrize("kind", ["binary", "loop"])
def test_edit_refuses_an_unreadable_scene_before_serving(tmp_path, kind):
    f = tmp_path / "s.sigma"
    if kind == "binary":
        f.write_bytes(b"\xca\xfe\xba\xbe" * 64)
    else:
        f.symlink_to(f.name)
    out = _clean_failure(runner.invoke(app, ["edit", str(f), "--no-browser", "--port", "0"]))
    assert ("not UTF-8" if kind == "binary" else "cannot read scene file") in out
    assert "starting from a template" not in out


def test_an_eval_set_of_binary_junk_is_one_error(tmp_path):
    (tmp_path / "evalset.json").write_bytes(b"\xf6\xff\x00junk")
    for cmd in ("run", "score"):
        out = _clean_failure(runner.invoke(app, ["eval", cmd, str(tmp_path)]))
        assert "is not UTF-8 text" in out


def test_synth_bad_settings_are_one_line_per_option_and_a_negative_seed_is_refused(tmp_path):
    out = _clean_failure(runner.invoke(app, ["data", "synth", str(tmp_path / "d"), "-n", "1", "--size", "0",
                                             "--seed", "-1"]))
    assert "--size 0:" in out and "--seed -1:" in out and "errors.pydantic.dev" not in out
    assert not (tmp_path / "d").exists()


def test_toyworld_negative_seed_base_is_a_usage_error(tmp_path):
    res = runner.invoke(app, ["eval", "toyworld", "--count", "1", "--subjects", "1", "--seed-base", "-5",
                              "-o", str(tmp_path / "tw")])
    assert res.exit_code == 2 and "--seed-base" in res.output and "Traceback" not in res.output


def test_a_ray_address_ray_cannot_parse_is_a_clean_error():
    pytest.importorskip("ray")
    from sigmascene.data.ray_cluster import connect
    from sigmascene.errors import SigmaError

    with pytest.raises(SigmaError, match="cannot reach a Ray cluster at 'bogus:addr'"):
        connect("bogus:addr")


# -- data show -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("ds") / "ds"
    res = runner.invoke(app, ["data", "synth", str(root), "-n", "1", "--size", "32", "--subjects", "1", "-w", "1"])
    assert res.exit_code == 0, res.output
    return root


def test_data_show_to_a_non_png_name_is_refused_not_a_pil_traceback(tiny_dataset, tmp_path):
    out = _clean_failure(runner.invoke(app, ["data", "show", str(tiny_dataset), "-k", "0",
                                             "-o", str(tmp_path / "x.txt")]))
    assert "should end in .png" in out


def test_data_show_keeps_a_users_png_and_replaces_its_own_sheet(tiny_dataset, tmp_path):
    mine = tmp_path / "mine.png"
    mine.write_bytes(b"not ours")
    out = _clean_failure(runner.invoke(app, ["data", "show", str(tiny_dataset), "-k", "0", "-o", str(mine)]))
    assert "refusing to overwrite" in out and mine.read_bytes() == b"not ours"
    sheet = tmp_path / "sheet.png"
    for _ in range(2):
        res = runner.invoke(app, ["data", "show", str(tiny_dataset), "-k", "0", "-o", str(sheet)])
        assert res.exit_code == 0, res.output
    assert runner.invoke(app, ["data", "show", str(tiny_dataset), "-k", "0", "-o", str(mine), "--force"]
                         ).exit_code == 0


# -- --init ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cmd", [["train", "--init"], ["data", "build", "--init", "-c"]])
def test_init_onto_a_folder_says_it_is_a_folder_even_with_force(tmp_path, cmd):
    folder = tmp_path / "cfg"
    (folder / "keep").parent.mkdir()
    (folder / "keep").write_text("x")
    out = _clean_failure(runner.invoke(app, [*cmd, str(folder), "--force"]))
    assert "is a folder; --init writes a file" in out and (folder / "keep").read_text() == "x"


def test_build_init_with_tiny_models_refuses_an_existing_config_before_writing_models(tmp_path):
    cfg = tmp_path / "build.toml"
    cfg.write_text("# mine\n")
    out = _clean_failure(runner.invoke(app, ["data", "build", "--init", "-c", str(cfg), "--tiny-models",
                                             str(tmp_path / "models")]))
    assert "already exists" in out and not (tmp_path / "models").exists() and cfg.read_text() == "# mine\n"


# -- eval ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["../../escape", "a/b", "..", "."])
def test_an_eval_method_name_cannot_leave_the_sets_renders_folder(env, tiny_dataset, tmp_path, method):
    res = runner.invoke(app, ["eval", "make-set", str(tiny_dataset), "-o", str(tmp_path / "set"), "--single", "1",
                              "--multi", "0"])
    assert res.exit_code == 0, res.output
    for cmd in (["run", "--guidance", "2.5"], ["score"]):
        out = _clean_failure(runner.invoke(app, ["eval", cmd[0], str(tmp_path / "set"), *cmd[1:], "-m", method]))
        assert "must be a plain folder name" in out
    assert not (tmp_path.parent / "escape").exists() and not (tmp_path / "set" / "renders" / "a").exists()


def test_eval_make_set_negative_seed_and_asking_for_nothing_are_clear(tiny_dataset, tmp_path):
    res = runner.invoke(app, ["eval", "make-set", str(tiny_dataset), "-o", str(tmp_path / "a"), "--seed", "-1"])
    assert res.exit_code == 2 and "--seed" in res.output and "Traceback" not in res.output
    out = _clean_failure(runner.invoke(app, ["eval", "make-set", str(tiny_dataset), "-o", str(tmp_path / "b"),
                                             "--single", "0", "--multi", "0"]))
    assert "asks for no samples" in out


def test_eval_run_guidance_nan_is_refused(tmp_path):
    out = _clean_failure(runner.invoke(app, ["eval", "run", str(tmp_path), "--guidance", "nan"]))
    assert "--guidance must be a finite number" in out


# -- data import -----------------------------------------------------------------------------------------------


def _import_src(tmp_path):
    from PIL import Image

    src = tmp_path / "src"
    (src / "images").mkdir(parents=True)
    (src / "masks" / "a").mkdir(parents=True)
    Image.new("RGB", (32, 32), (200, 100, 50)).save(src / "images" / "a.png")
    mask = Image.new("L", (32, 32), 0)
    mask.paste(255, (4, 4, 20, 20))
    mask.save(src / "masks" / "a" / "cat.png")
    return src


def test_import_skips_a_file_that_is_not_an_image_with_a_note(tmp_path):
    src = _import_src(tmp_path)
    (src / "images" / "b.png").write_bytes(b"\xca\xfe" * 100)
    res = runner.invoke(app, ["data", "import", str(src), "-o", str(tmp_path / "ds"), "--no-fit-boxes"])
    assert res.exit_code == 0, res.output
    assert "b: not a readable image" in res.output and "1 samples" in res.output


@pytest.mark.parametrize("fov", ["nan", "inf", "-5", "1e309"])
def test_import_fov_that_is_not_an_angle_is_refused_before_anything_is_written(tmp_path, fov):
    src = _import_src(tmp_path)
    out = _clean_failure(runner.invoke(app, ["data", "import", str(src), "-o", str(tmp_path / "ds"),
                                             "--fov", fov, "--no-fit-boxes"]))
    assert "--fov must be" in out and not (tmp_path / "ds").exists()


def test_import_captions_that_are_not_utf8_are_one_error(tmp_path):
    src = _import_src(tmp_path)
    caps = tmp_path / "captions.json"
    caps.write_bytes(b'{"a": "caf\xe9"}')
    out = _clean_failure(runner.invoke(app, ["data", "import", str(src), "-o", str(tmp_path / "ds"),
                                             "--captions", str(caps), "--no-fit-boxes"]))
    assert "is not UTF-8 text" in out


@pytest.mark.parametrize("kind", ["binary", "folder"])
def test_eval_weights_config_of_binary_junk_or_a_folder_is_one_error(tmp_path, kind):
    from sigmascene.eval.weights import Weights

    path = tmp_path / "eval.toml"
    if kind == "binary":
        path.write_bytes(b"\xca\xfe\xba\xbe[weights]\n")
    else:
        path.mkdir()
    with pytest.raises(ConfigError, match="not UTF-8" if kind == "binary" else "is a folder"):
        Weights.from_toml(path)


def test_fmt_keeps_a_windows_files_crlf_line_ends_and_bom(tmp_path):
    f = tmp_path / "w.sigma"
    f.write_bytes(b'\xef\xbb\xbfsigma 1\r\ncanvas 64 x 64\r\nprompt   "x"\r\n')
    res = runner.invoke(app, ["fmt", str(f)])
    assert res.exit_code == 0 and "reformatted" in res.output, res.output
    assert f.read_bytes() == b'\xef\xbb\xbfsigma 1\r\ncanvas 64 x 64\r\nprompt "x"\r\n'
    res = runner.invoke(app, ["fmt", "--check", str(f)])  # CRLF alone is not a change
    assert res.exit_code == 0 and "already formatted" in res.output


def test_a_run_dir_that_is_the_configs_own_folder_would_not_replace_the_users_config_toml(tmp_path):
    from sigmascene.train.config_file import check_run_dir_keeps_the_config

    path = tmp_path / "config.toml"
    path.write_text(default_toml().replace('dir = "runs/sigma"', 'dir = "."') + "# my notes\n")
    with pytest.raises(ConfigError, match="would be replaced"):
        check_run_dir_keeps_the_config(load_config(path))
    (tmp_path / "metrics.jsonl").write_text("")  # a run folder's own copy: continuing it rewrites it, as before
    check_run_dir_keeps_the_config(load_config(path))
    check_run_dir_keeps_the_config(load_config(path, ["run.dir=runs/first"]))


@pytest.mark.parametrize("cmd", [["data", "build", "-c", "build.toml", "-o", "ds"], ["data", "synth", "ds"],
                                 ["eval", "toyworld", "--validate"]])
def test_a_count_of_10_to_the_20_is_a_usage_error_not_an_overflow_or_a_run_for_ever(tmp_path, monkeypatch, cmd):
    monkeypatch.chdir(tmp_path)
    res = runner.invoke(app, [*cmd, "--count", "99999999999999999999"])
    assert res.exit_code == 2 and "--count" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "ds").exists()

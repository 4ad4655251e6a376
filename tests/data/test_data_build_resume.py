"""A `data build` killed at any moment resumes with --resume: finished stage outputs are kept, nothing is redone,
nothing half-written is used, and the result equals an uninterrupted build."""

import os
import signal
import subprocess
import sys
import time

import pytest
from build_support import dataset_files, reference_build, tiny_models

from sigmascene.data.recipe import load_config, run_build
from sigmascene.data.recipe.store import RESULT, WORK

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.mark.slow
def test_a_killed_build_resumes_to_the_same_dataset_without_redoing_finished_outputs(tmp_path_factory, tmp_path):
    models = tiny_models(tmp_path_factory)
    cfg, reference = reference_build(tmp_path_factory, models)
    out = tmp_path / "ds"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]),
               OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    proc = subprocess.Popen([sys.executable, "-c", "from sigmascene.cli import main; main()", "data", "build",
                             "--config", str(cfg), "--out", str(out), "--count", "6"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    depth = out / WORK / "depth"
    deadline = time.time() + 300
    try:  # kill it in the middle of the first shard, once the depth stage has stored something
        while time.time() < deadline and not list(depth.glob(f"*/*/{RESULT}")):
            assert proc.poll() is None, "the build ended before it could be killed"
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert not (out / "index.jsonl").exists()
    # a half-written output as a kill can leave it: never read, swept on resume
    fake = (out / WORK / "repose" / "ab" / ".tmp-abcdef-x")
    fake.mkdir(parents=True)
    (fake / "half.png").write_bytes(b"\x89PNG")
    finished = {p: p.stat().st_mtime_ns for p in (out / WORK).rglob(RESULT)}
    assert finished

    report = run_build(load_config(cfg), out, count=6, resume=True)
    assert not fake.exists() and any("half-written" in n for n in report.notes)
    for p, mtime in finished.items():
        assert p.stat().st_mtime_ns == mtime, f"{p} was redone"
    reused = sum(c["reused"] for c in report.stage_counts.values())
    assert reused == len(finished)
    assert dataset_files(out) == dataset_files(reference)

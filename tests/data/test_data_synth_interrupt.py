"""`data synth`: Ctrl-C exits within seconds at any moment (no hung pool, no worker left behind), and a second
writer on the same folder is refused with a message that names the lock and its holder."""

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from sigmascene.data.lock import LOCK_FILE, FolderLock
from sigmascene.data.synth import SynthConfig, synthesize
from sigmascene.errors import SigmaError

ENV = dict(os.environ, PYOPENGL_PLATFORM="egl", OMP_NUM_THREADS="1")


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_ctrl_c_while_workers_render_exits_within_seconds_and_leaves_no_process(tmp_path):
    out = tmp_path / "world"
    for moment in ("starting", "rendering"):
        p = subprocess.Popen([sys.executable, "-m", "sigmascene.cli", "data", "synth", str(out), "--count", "400",
                              "--size", "64", "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             env=ENV, start_new_session=True)
        end = time.monotonic() + 90
        if moment == "rendering":  # workers busy, results flowing
            while time.monotonic() < end and p.poll() is None:
                index = out / "index.jsonl"
                if index.is_file() and index.read_text().count("\n") >= 3:
                    break
                time.sleep(0.05)
        else:  # the command is past its imports (its lock is taken) and the pool's processes are still spawning;
            # a fixed delay sent the signal during interpreter start-up on a loaded machine
            while time.monotonic() < end and p.poll() is None and not (out / LOCK_FILE).exists():
                time.sleep(0.02)
            time.sleep(0.3)
        os.killpg(p.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole process group
        t0 = time.monotonic()
        try:
            rc = p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            raise AssertionError(f"data synth hung after Ctrl-C ({moment})") from None
        assert rc == 130, p.stdout.read().decode()[-2000:]
        assert time.monotonic() - t0 < 10
        deadline = time.monotonic() + 5
        while _group_alive(p.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _group_alive(p.pid), f"worker processes outlived the Ctrl-C ({moment})"
        assert not (out / LOCK_FILE).exists()
    if moment == "rendering":
        assert "continue with: sigmascene data synth" in p.stdout.read().decode()


def test_a_second_writer_is_refused_with_a_message_naming_the_lock(tmp_path):
    out = tmp_path / "world"
    out.mkdir()
    with FolderLock(out, "sigmascene data synth"):
        with pytest.raises(SigmaError) as err:
            synthesize(out, 2, SynthConfig(size=64, max_subjects=2), workers=1)
    text = err.value.format()
    assert str(out / LOCK_FILE) in text and f"pid {os.getpid()}" in text
    assert not (out / "index.jsonl").exists()  # the refused run wrote nothing


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path):
    out = tmp_path / "world"
    out.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (out / LOCK_FILE).write_text(f'{{"pid": {dead.pid}, "host": "{socket.gethostname()}", "what": "synth"}}')
    report = synthesize(out, 2, SynthConfig(size=64, max_subjects=2), workers=1)
    assert report.generated == 2 and not (out / LOCK_FILE).exists()

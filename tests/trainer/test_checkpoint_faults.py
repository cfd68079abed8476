"""Only a checkpoint's content condemns it: a file that cannot be read right now (an
I/O error, the open-file limit, a directory in its place) is left where it is, and the
trainer never trains from scratch over checkpoints it could not read."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from controlroom.trainer import checkpoint
from tests.trainer.helpers import REPO, TINY_PONG, read_metrics, run_trainer, trainer_env


def _save(run: Path, *steps: int) -> list[Path]:
    (run / "checkpoints").mkdir(parents=True, exist_ok=True)
    return [
        checkpoint.save(
            run,
            {"global_step": s, "episodes": 0, "time": 0.0, "settings": {"game": "Pong"}},
            keep=5,
        )
        for s in steps
    ]


def _names(run: Path) -> list[str]:
    return sorted(p.name for p in (run / "checkpoints").iterdir())


def test_unreadable_newest_is_left_in_place_and_the_previous_one_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _save(tmp_path, 1)
    blocked = tmp_path / "checkpoints" / "ckpt-000000000002.pt"
    blocked.mkdir()  # read_bytes() fails with EISDIR: an OSError, not bad content
    found = checkpoint.load_newest_good(tmp_path)
    assert found is not None and found[1]["global_step"] == 1
    assert blocked.is_dir() and not list(tmp_path.glob("checkpoints/*.corrupt"))
    assert "cannot read checkpoint" in caplog.text and "leaving it in place" in caplog.text


def _eio(path: Path) -> None:
    """Make path a file whose every read fails with a real EIO from the kernel."""
    path.symlink_to("/proc/self/mem")


def test_io_error_on_read_is_retried_then_left_in_place(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _save(tmp_path, 1)
    failing = tmp_path / "checkpoints" / "ckpt-000000000002.pt"
    _eio(failing)
    found = checkpoint.load_newest_good(tmp_path)
    assert found is not None and found[1]["global_step"] == 1
    assert failing.is_symlink() and not list(tmp_path.glob("checkpoints/*.corrupt"))
    assert "Input/output error" in caplog.text


# Fills the open-file limit, so every open() fails with EMFILE (a real, transient error),
# tries to load, then frees the descriptors and loads again.
_EMFILE = r"""
import json, os, resource, sys
from pathlib import Path
from controlroom.trainer import checkpoint
run = Path(sys.argv[1])
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
fds = []
try:
    while True:
        fds.append(os.open(os.devnull, os.O_RDONLY))
except OSError:
    pass
try:
    first = "loaded %d" % checkpoint.load_newest_good(run)[1]["global_step"]
except checkpoint.CheckpointUnreadable as exc:
    first = "unreadable: " + str(exc)
except TypeError:
    first = "none"
for fd in fds:
    os.close(fd)
found = checkpoint.load_newest_good(run)
print(json.dumps({"first": first, "then": found[1]["global_step"] if found else None}))
"""


def test_open_file_limit_condemns_nothing_and_the_files_load_afterwards(tmp_path: Path) -> None:
    _save(tmp_path, 1, 2)
    before = _names(tmp_path)
    out = subprocess.run(
        [sys.executable, "-c", _EMFILE, str(tmp_path)],
        capture_output=True,
        text=True,
        env=trainer_env(),
        cwd=REPO,
        timeout=60,
        check=True,
    )
    result = json.loads(out.stdout)
    assert result["first"].startswith("unreadable: ")
    assert "Too many open files" in result["first"]
    assert result["then"] == 2  # the newest, once descriptors are free again
    assert _names(tmp_path) == before


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_corrupt_content_is_condemned(tmp_path: Path, damage: str) -> None:
    _old, newest = _save(tmp_path, 1, 2)
    data = newest.read_bytes()
    if damage == "truncate":
        newest.write_bytes(data[:-5])
    else:  # same length, one payload byte changed: the checksum catches it
        newest.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))
    found = checkpoint.load_newest_good(tmp_path)
    assert found is not None and found[1]["global_step"] == 1
    assert (tmp_path / "checkpoints" / "ckpt-000000000002.pt.corrupt").exists()
    assert not newest.exists()


def test_trainer_resumes_past_an_unreadable_checkpoint(pong32: Path) -> None:
    blocked = pong32 / "checkpoints" / "ckpt-000000999999.pt"
    _eio(blocked)
    result = run_trainer(pong32, *TINY_PONG, "--resume", "--total-steps", "64")
    assert result.returncode == 0, result.stderr
    assert "cannot read checkpoint" in result.stderr
    assert blocked.is_symlink()
    start = next(x for x in read_metrics(pong32)[::-1] if x["kind"] == "start")
    assert start["resumed_from"].endswith("ckpt-000000000032.pt")
    assert (pong32 / "checkpoints" / "ckpt-000000000064.pt").exists()


def test_trainer_with_only_unreadable_checkpoints_exits_1_and_keeps_them(pong32: Path) -> None:
    ckpts = pong32 / "checkpoints"
    good = ckpts / "ckpt-000000000032.pt"
    good.rename(ckpts / "moved")
    good.mkdir()  # the only checkpoint cannot be read
    lines_before = len(read_metrics(pong32))
    result = run_trainer(pong32, *TINY_PONG, "--resume", "--total-steps", "64")
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("controlroom.trainer: error: ") and "could not be read" in last
    assert good.is_dir() and not list(ckpts.glob("*.corrupt"))
    assert len(read_metrics(pong32)) == lines_before  # no fresh run was started

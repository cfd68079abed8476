"""Supervision under faults, with a real agent, real trainers and a real SQLite file:
a store write that fails while a trainer dies, a shell trainer whose child outlives it,
a symlinked state dir, random kills between checkpoints, a trainer that refuses its
arguments, and a state dir that is not ours."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from controlroom import protocol
from controlroom.agent.storage import paths
from controlroom.config_schema import ConfigError
from tests.agent.faultkit import FaultHarness, checkpoint_step, group_members, starts, stepper
from tests.agent.harness import wait_for


def running(agent: FaultHarness, game: str) -> dict[str, Any] | None:
    g = agent.game(game)
    return g if g.get("state") == "running" else None


def events(agent: FaultHarness, kind: str | None = None) -> list[dict[str, Any]]:
    found = agent.call("events", limit=200)["events"]
    return [e for e in found if kind is None or e["kind"] == kind]


# ---- issue 10, item 4: a failed store write while a trainer dies ------------------------
def test_trainer_dying_while_the_store_is_locked_is_restarted_and_said(
    fagent: FaultHarness,
) -> None:
    fagent.write_config(games={"Pong": {"command": stepper()}})
    fagent.start()
    fagent.call("add_game", game="Pong")
    first = wait_for(lambda: running(fagent, "Pong"), 30, "Pong running")
    locker = sqlite3.connect(fagent.state_dir / "agent.db", isolation_level=None, timeout=30)
    locker.execute("BEGIN EXCLUSIVE")  # every write of the agent now fails after its busy wait
    try:
        os.kill(first["pid"], signal.SIGKILL)
        log = fagent.state_dir / "agent.log"
        wait_for(lambda: "could not save Pong" in log.read_text(), 40, "the failed write logged")
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    second = wait_for(
        lambda: (g := running(fagent, "Pong")) and g["pid"] != first["pid"] and g,
        40,
        "a new trainer after the store came back",
    )
    assert second["restarts"] == 1
    said = wait_for(
        lambda: [e for e in events(fagent, "error") if "store" in e["message"]],
        10,
        "the outage recorded once the store works",
    )
    assert said[-1]["data"]["failed_writes"] >= 1
    assert any(e["kind"] == "crash" for e in events(fagent))  # kept in memory, written late
    wait_for(lambda: _row(fagent) == (second["pid"], "running"), 10, "the row to agree")


def _row(agent: FaultHarness) -> tuple[Any, ...]:
    with contextlib.closing(sqlite3.connect(agent.state_dir / "agent.db")) as db:
        return tuple(db.execute("SELECT pid, state FROM games WHERE name='Pong'").fetchone())


# ---- item 5: stop signals the whole process group ----------------------------------------
CHILD = """
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
while True:
    with open("child.out", "a") as f:
        f.write("x")
    time.sleep(0.05)
"""


def test_stop_ends_a_shell_trainer_and_its_child(fagent: FaultHarness, tmp_path: Path) -> None:
    child = tmp_path / "child.py"
    child.write_text(CHILD)
    shell = ["sh", "-c", f"{sys.executable} {child} & wait"]
    fagent.write_config(agent={"stop_grace_s": 1.0}, games={"Pong": {"command": shell}})
    fagent.start()
    fagent.call("add_game", game="Pong")
    out = fagent.state_dir / "runs" / "Pong" / "child.out"
    wait_for(lambda: out.exists() and out.stat().st_size > 0, 30, "the child writing")
    pid = fagent.game("Pong")["pid"]
    assert len(group_members(pid)) == 2  # sh and its child
    fagent.call("stop_game", game="Pong")
    wait_for(lambda: not group_members(pid), 10, "no process of the trainer's group")
    size = out.stat().st_size
    time.sleep(0.5)
    assert out.stat().st_size == size  # nobody writes any more
    assert fagent.game("Pong")["state"] == "stopped"


def test_crashed_shell_leader_is_not_restarted_beside_its_living_child(
    fagent: FaultHarness,
    tmp_path: Path,
) -> None:
    child = tmp_path / "child.py"
    child.write_text(CHILD)
    shell = ["sh", "-c", f"{sys.executable} {child} & wait"]
    fagent.write_config(agent={"stop_grace_s": 1.0}, games={"Pong": {"command": shell}})
    fagent.start()
    fagent.call("add_game", game="Pong")
    out = fagent.state_dir / "runs" / "Pong" / "child.out"
    wait_for(lambda: out.exists() and out.stat().st_size > 0, 30, "the child writing")
    pid = fagent.game("Pong")["pid"]
    os.kill(pid, signal.SIGKILL)  # the shell dies; its child goes on writing
    time.sleep(2)
    # the session still runs: no second trainer may start while the child writes
    assert fagent.game("Pong")["pid"] == pid and fagent.game("Pong")["restarts"] == 0
    fagent.call("stop_game", game="Pong")
    wait_for(lambda: not group_members(pid), 10, "the orphaned child gone too")


# ---- item 6: a symlinked state dir ---------------------------------------------------------
def test_agent_on_a_symlinked_state_dir_adopts_its_trainer(fagent: FaultHarness) -> None:
    real = fagent.root / "real"
    real.mkdir()
    fagent.state_dir.symlink_to(real)
    fagent.write_config(games={"Pong": {"command": stepper()}})
    fagent.start()
    fagent.call("add_game", game="Pong")
    before = wait_for(lambda: running(fagent, "Pong"), 30, "Pong running")
    fagent.kill()
    # As if the agent died between spawning and recording the pid: only the search for
    # a running trainer (command line and cwd) can find it now.
    with contextlib.closing(sqlite3.connect(real / "agent.db")) as db:
        db.execute("UPDATE games SET pid=NULL, pid_create_time=NULL")
        db.commit()
    fagent.start()
    after = wait_for(lambda: running(fagent, "Pong"), 30, "Pong adopted")
    assert after["pid"] == before["pid"]
    time.sleep(2)  # several passes: no twin, no crash
    assert [p.pid for p in fagent.trainers()] == [before["pid"]]
    assert not (real / "runs" / "Pong" / "TWIN").exists()
    assert not events(fagent, "crash") and events(fagent, "adopted")


def test_state_dir_is_resolved(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert paths.resolve_state_dir(str(tmp_path / "link")) == (tmp_path / "real").resolve()


# ---- item 8: kills between checkpoints never park a game --------------------------------
def test_kills_between_checkpoints_do_not_make_a_crash_loop(fagent: FaultHarness) -> None:
    fagent.write_config(
        agent={"backoff_initial_s": 0.2},  # crash loop: 3 in 60 s
        games={"Pong": {"command": stepper()}},
    )
    fagent.start()
    fagent.call("add_game", game="Pong")
    run_dir = fagent.state_dir / "runs" / "Pong"
    for kill in range(5):
        kill_after_a_checkpoint(fagent, run_dir, f"kill {kill}")
    g = wait_for(lambda: running(fagent, "Pong"), 30, "running after 5 kills")
    assert g["restarts"] == 5
    assert not events(fagent, "crash_loop")
    assert starts(run_dir)[-1]["resumed_from"] > 0


def kill_after_a_checkpoint(agent: FaultHarness, run_dir: Path, what: str) -> None:
    g = wait_for(lambda: running(agent, "Pong"), 30, f"running before {what}")
    mark = checkpoint_step(run_dir) or 0
    wait_for(lambda: (checkpoint_step(run_dir) or 0) > mark, 10, "a new checkpoint")
    os.kill(g["pid"], signal.SIGKILL)
    wait_for(lambda: agent.game("Pong").get("pid") != g["pid"], 10, "the exit seen")


def test_kills_without_progress_still_make_a_crash_loop(fagent: FaultHarness) -> None:
    # Dies before its first metrics line: no progress, so every exit counts.
    dies = [sys.executable, "-c", "import time; time.sleep(0.3); raise SystemExit(1)"]
    fagent.write_config(agent={"backoff_initial_s": 0.2}, games={"Pong": {"command": dies}})
    fagent.start()
    fagent.call("add_game", game="Pong")
    wait_for(lambda: fagent.game("Pong").get("state") == "crash_loop", 30, "crash loop")
    assert fagent.game("Pong")["restarts"] == 2


# ---- issue 11 §1: a trainer that refuses its arguments -------------------------------
USAGE = (
    "import sys; print('starting', flush=True); "
    "print('usage: train [--lr LR]', file=sys.stderr); "
    "print('train: error: argument --lr: invalid float value: abc', file=sys.stderr); "
    "sys.exit(2)"
)


def test_trainer_exiting_2_waits_for_a_fix_and_says_why(fagent: FaultHarness) -> None:
    fagent.write_config(games={"Pong": {"command": [sys.executable, "-c", USAGE]}})
    fagent.start()
    fagent.call("add_game", game="Pong")
    wait_for(lambda: fagent.game("Pong").get("state") == "crash_loop", 20, "waiting for a fix")
    time.sleep(1.5)  # no restart follows
    g = fagent.game("Pong")
    assert g["state"] == "crash_loop" and g["restarts"] == 0
    assert "exit code 2" in g["last_exit"]
    assert "invalid float value: abc" in g["last_exit"]
    [said] = events(fagent, "crash_loop")
    assert "invalid float value: abc" in said["message"]
    assert not events(fagent, "restart")


# ---- item 12: a state dir that is not ours ---------------------------------------------
def test_an_existing_shared_folder_is_refused_and_left_alone(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "notes.txt").write_text("someone's")
    shared.chmod(0o775)
    with pytest.raises(ConfigError, match="not empty"):
        paths.ensure_state_dir(shared)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o775
    assert sorted(os.listdir(shared)) == ["notes.txt"]


def test_home_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o755)
    monkeypatch.setenv("HOME", str(home))
    with pytest.raises(ConfigError, match="home"):
        paths.ensure_state_dir(paths.resolve_state_dir("~"))
    assert stat.S_IMODE(home.stat().st_mode) == 0o755


def test_new_empty_and_own_state_dirs_are_made_private(tmp_path: Path) -> None:
    new = paths.ensure_state_dir(tmp_path / "a" / "b")
    assert stat.S_IMODE(new.stat().st_mode) == 0o700
    empty = tmp_path / "empty"
    empty.mkdir(mode=0o755)
    paths.ensure_state_dir(empty)
    assert stat.S_IMODE(empty.stat().st_mode) == 0o700
    ours = tmp_path / "ours"
    ours.mkdir(mode=0o755)
    (ours / "agent.db").touch()
    paths.ensure_state_dir(ours)
    assert stat.S_IMODE(ours.stat().st_mode) == 0o700


def test_agent_run_on_home_exits_with_a_message(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    (home / ".bashrc").write_text("")
    env = {**os.environ, "HOME": str(home)}
    env.pop(paths.STATE_DIR_ENV, None)
    done = subprocess.run(
        [sys.executable, "-m", "controlroom.agent", "run", "--state-dir", "~"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "home" in done.stderr and "Traceback" not in done.stderr
    assert stat.S_IMODE(home.stat().st_mode) == 0o755
    assert sorted(os.listdir(home)) == [".bashrc"]


def test_adopted_shell_trainer_is_stopped_with_its_child(
    fagent: FaultHarness,
    tmp_path: Path,
) -> None:
    child = tmp_path / "child.py"
    child.write_text(CHILD)
    shell = ["sh", "-c", f"{sys.executable} {child} & wait"]
    fagent.write_config(agent={"stop_grace_s": 1.0}, games={"Pong": {"command": shell}})
    fagent.start()
    fagent.call("add_game", game="Pong")
    out = fagent.state_dir / "runs" / "Pong" / "child.out"
    wait_for(lambda: out.exists() and out.stat().st_size > 0, 30, "the child writing")
    pid = fagent.game("Pong")["pid"]
    fagent.kill()
    os.kill(pid, signal.SIGKILL)  # and the shell dies while no agent watches
    fagent.start()
    time.sleep(1.5)
    g = fagent.game("Pong")
    assert g["pid"] == pid and g["restarts"] == 0  # the orphaned child's group, adopted
    assert len(group_members(pid)) == 1
    fagent.call("stop_game", game="Pong")
    wait_for(lambda: not group_members(pid), 10, "the adopted group gone")
    assert fagent.game("Pong")["state"] == "stopped"


def test_pending_writes_keep_order_and_newest_values_through_a_lock(tmp_path: Path) -> None:
    from controlroom.agent.storage import pending
    from controlroom.agent.storage.store import Store

    store = Store(tmp_path / "agent.db")
    store.db.execute("PRAGMA busy_timeout=50")  # fail fast instead of after 5 s
    store.put_game("Pong", True, {"num_envs": 2})
    pushed: list[protocol.Event] = []
    store.on_event = pushed.append
    owed = pending.PendingWrites(store)
    locker = sqlite3.connect(tmp_path / "agent.db", isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    owed.update_game("Pong", state="crashed", pid=None)
    owed.add_event("crash", "Pong", "Pong trainer crashed")
    owed.update_game("Pong", state="backoff")
    assert owed.failing_since is not None and owed.games == {
        "Pong": {"state": "backoff", "pid": None}
    }
    assert [e.kind for e in pushed] == ["error"]  # told live, not stored
    assert not owed.flush()  # within RETRY_S: not even tried
    locker.execute("ROLLBACK")
    owed.next_try = 0.0
    assert owed.flush()
    assert store.games()[0].state == "backoff"
    kinds = [(e.kind, e.game) for e in store.events()]
    assert kinds == [("crash", "Pong"), ("error", None)]
    assert store.events()[-1].data["failed_writes"] >= 1
    locker.close()
    store.close()


def test_a_state_dir_seeded_with_only_a_config_copy_is_ours(tmp_path: Path) -> None:
    seeded = tmp_path / "seeded"
    seeded.mkdir(mode=0o755)
    (seeded / "config.toml").write_text("")
    paths.ensure_state_dir(seeded)
    assert stat.S_IMODE(seeded.stat().st_mode) == 0o700
    afile = tmp_path / "afile"
    afile.write_text("")
    with pytest.raises(ConfigError, match="afile"):
        paths.ensure_state_dir(afile)
    assert afile.read_text() == ""

"""The agent's parts on their own: store, boots, launch, GPU readers, run files."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from controlroom import protocol
from controlroom.agent.errors import OpError
from controlroom.agent.readings import nvml
from controlroom.agent.storage import boots
from controlroom.agent.storage.store import SAMPLE_RETENTION_S, Store
from controlroom.agent.supervision import launch
from controlroom.agent.supervision.runfiles import MetricsTail
from controlroom.config import ConfigError, loads


def test_store_migrates_once_and_keeps_wanted_state(tmp_path: Path) -> None:
    store = Store(tmp_path / "a.db")
    store.put_game("Pong", True, {"num_envs": 8})
    store.update_game("Pong", pid=42, cmdline=["python", "x"], state="running")
    store.close()
    again = Store(tmp_path / "a.db")  # reopening must not re-run migrations
    [row] = again.games()
    assert row.wanted is True and row.settings == {"num_envs": 8}
    assert row.pid == 42 and row.cmdline == ["python", "x"]
    assert again.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with pytest.raises(ValueError, match="unknown game columns"):
        again.update_game("Pong", evil=1)


def test_store_events_and_bounded_samples(tmp_path: Path) -> None:
    store = Store(tmp_path / "a.db")
    seen: list[protocol.Event] = []
    store.on_event = seen.append
    for i in range(5):
        store.add_event("crash", "Pong", f"crash {i}")
    assert [e.message for e in store.events(2)] == ["crash 3", "crash 4"]
    assert len(seen) == 5
    with pytest.raises(ValueError):
        store.add_event("nonsense", None, "x")
    store.add_sample(1000.0, {"cpu": 1})
    store.add_sample(1000.0 + SAMPLE_RETENTION_S + 1, {"cpu": 2})
    assert [s["cpu"] for s in store.samples()] == [2]


def test_event_log_is_pruned_to_max_events(tmp_path: Path) -> None:
    store = Store(tmp_path / "a.db", max_events=100)
    for i in range(1234):
        store.add_event("crash", "Pong", f"crash {i}")
    count = store.db.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    assert 100 <= count <= 110  # pruned every 10 inserts, never below the bound
    assert store.events(1)[0].message == "crash 1233"  # the newest are kept
    store.close()
    # Reopened with a smaller bound: pruned at once, oldest first.
    again = Store(tmp_path / "a.db", max_events=20)
    assert [e.message for e in again.events(1000)] == [f"crash {i}" for i in range(1214, 1234)]


def test_guard_timing_and_event_bound_are_config_with_checked_ranges() -> None:
    cfg = loads("")
    assert (cfg.guard.action_interval_s, cfg.guard.resume_hold_s) == (15.0, 30.0)
    assert cfg.agent.max_events == 50_000
    assert loads("[guard]\nresume_hold_s = 2\n").guard.resume_hold_s == 2.0
    for text, error in (
        ("[guard]\naction_interval_s = -1.0\n", "must be >= 0"),
        ("[agent]\nmax_events = 10\n", "agent.max_events: must be >= 100"),
    ):
        with pytest.raises(ConfigError, match=error):
            loads(text)


def test_boot_and_reboot_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    boot_file = tmp_path / "boot_id"
    boot_file.write_text("one\n")
    os.utime(boot_file, (1000.0, 1000.0))
    monkeypatch.setenv(boots.BOOT_ID_FILE_ENV, str(boot_file))
    store = Store(tmp_path / "a.db")
    first = boots.record_boot(store, now=1100.0)
    assert (first.boot_id, first.boot_time, first.rebooted) == ("one", 1000.0, False)
    store.heartbeat("one", 2200.0, protocol.Load(games=8, trainers=8, gpu_memory_used=35 * 2**30))
    assert not boots.record_boot(store, now=2300.0).rebooted  # agent restart, same boot
    boot_file.write_text("two\n")
    os.utime(boot_file, (2380.0, 2380.0))
    second = boots.record_boot(store, now=2400.0)
    assert second.rebooted and second.previous is not None
    new = store.boot("two")
    assert new is not None
    assert new.uptime_before_s == 1200.0 and new.downtime_before_s == 180.0
    [event] = [e for e in store.events() if e.kind == "reboot"]
    assert event.data["load_before"]["games"] == 8
    assert "up 20m00s" in event.message and "down 3m00s" in event.message


def test_real_boot_id_without_the_hook(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(boots.BOOT_ID_FILE_ENV, raising=False)
    boot_id, boot_time = boots.read_boot()
    assert len(boot_id) == 36 and boot_time > 0


def test_settings_validation_and_command_templates(tmp_path: Path) -> None:
    cfg = loads(
        '[trainer]\ncommand = []\n[games.Asteroids]\ncommand = ["python", '
        '"train_envpool.py", "--game", "{game}", "--num-envs", "{num_envs}", '
        '"--batch-size", "{minibatch_size}", "--run-dir", "{run_dir}"]\n'
    )
    s = launch.effective_settings(cfg, "Asteroids", {"num_envs": 32, "minibatch_size": 512})
    argv = launch.trainer_argv("Asteroids", s, tmp_path)
    assert argv == [
        "python",
        "train_envpool.py",
        "--game",
        "Asteroids",
        "--num-envs",
        "32",
        "--batch-size",
        "512",
        "--run-dir",
        str(tmp_path),
    ]
    builtin = launch.trainer_argv("Pong", launch.effective_settings(cfg, "Pong", {}), tmp_path)
    assert builtin[:3] == [sys.executable, "-m", "controlroom.trainer"] and "--resume" in builtin
    with pytest.raises(OpError, match="unknown placeholder"):
        launch.format_command(["{game}", "{password}"], {"game": "Pong"})
    with pytest.raises(OpError) as bad:
        launch.effective_settings(cfg, "Pong", {"num_envs": 3, "minibatch_size": 256})
    assert bad.value.code == "invalid"
    with pytest.raises(OpError) as unknown:
        launch.effective_settings(cfg, "NotAGame", {})
    assert unknown.value.code == "unknown_game"
    with pytest.raises(OpError, match="unknown setting"):
        launch.effective_settings(cfg, "Pong", {"command": ["sh"]})


def test_no_driver_means_no_gpu_with_a_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(nvml.FAKE_GPU_ENV, raising=False)
    reader = nvml.open_reader()
    if isinstance(reader, nvml.NvmlReader):  # a machine with a GPU: the real path works
        assert reader.read()
        return
    assert reader.read() == [] and reader.error


def test_recorded_readings_replay_in_a_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = {
        "index": 0,
        "name": "H100",
        "utilization": 97.0,
        "memory_used": 35 * 2**30,
        "memory_total": 80 * 2**30,
        "temperature_c": 48.0,
        "power_w": 310.0,
        "power_limit_w": 700.0,
        "processes": {"123": 2**30},
    }
    path = tmp_path / "gpu.json"
    path.write_text(json.dumps([[frame], [{**frame, "utilization": 50.0}]]))
    monkeypatch.setenv(nvml.FAKE_GPU_ENV, str(path))
    reader = nvml.open_reader()
    assert isinstance(reader, nvml.RecordedReader)
    utils = [reader.read()[0].utilization for _ in range(3)]
    assert utils == [97.0, 50.0, 97.0]
    assert nvml.process_memory(reader.read()) == {123: 2**30}


def test_metrics_tail_reads_only_new_complete_lines(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text(
        json.dumps(
            {"kind": "update", "time": 1.0, "global_step": 10, "charts/episodic_return_mean": -20.0}
        )
        + "\n"
    )
    tail = MetricsTail(path)
    tail.start_at_end()
    assert tail.metrics == {"time": 1.0, "global_step": 10, "return_mean": -20.0}
    with path.open("a") as fh:
        fh.write('{"kind": "heartbeat", "time": 2.0, "global_step": 20}\n{"kind": "ex')
    assert tail.poll() == 1 and tail.metrics["global_step"] == 20
    with path.open("a") as fh:
        fh.write('it", "reason": "budget", "time": 3.0}\nnot json\n')
    assert tail.poll() == 2 and tail.last_exit_reason == "budget"


def test_gpu_processes_are_mapped_to_games(tmp_path: Path) -> None:
    from controlroom.agent.readings.telemetry import Telemetry

    path = tmp_path / "gpu.json"
    path.write_text(
        json.dumps(
            [
                {
                    "index": 0,
                    "name": "A100",
                    "utilization": 7.5,
                    "memory_used": 6 * 2**30,
                    "memory_total": 80 * 2**30,
                    "temperature_c": 51.0,
                    "power_w": 90.0,
                    "power_limit_w": 400.0,
                    "processes": {"111": 2**30, "222": 5 * 2**30},
                }
            ]
        )
    )
    t = Telemetry(nvml.RecordedReader(path), tmp_path)
    t.sample()
    [gpu] = t.gpu_states({111: "Pong"})
    assert gpu.processes == [
        protocol.GpuProcess(pid=111, game="Pong", memory_used=2**30),
        protocol.GpuProcess(pid=222, game=None, memory_used=5 * 2**30),
    ]
    assert (gpu.name, gpu.memory_used, gpu.power_limit_w) == ("A100", 6 * 2**30, 400.0)
    assert t.history_now().gpu_util == [7.5]
    assert (t.system.ram_total or 0) > 0 and len(t.system.load_avg) == 3

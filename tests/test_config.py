"""config.toml: strict validation with one clear line, lossless round trip, lookup order."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from controlroom import config
from controlroom.config import ConfigError
from tests.agent.test_run_entry import HIDE_EXTRA

BAD_CONFIGS = {
    "toml-syntax": ("[trainer\nnum_envs = 8\n", "TOML syntax error"),
    "unknown-key": (
        "[trainer]\nnum_envz = 8\n",
        "trainer.num_envz: unknown key (did you mean 'num_envs'?)",
    ),
    "unknown-section": ("[trainers]\n", "trainers: unknown key (did you mean 'trainer'?)"),
    "wrong-type": (
        '[trainer]\nnum_envs = "many"\n',
        "trainer.num_envs: must be an integer, not a string",
    ),
    "bool-for-int": ("[trainer]\nnum_envs = true\n", "must be an integer, not a boolean"),
    "unknown-game": ("[games.Pongg]\n", "unknown game 'Pongg' (did you mean 'Pong'?)"),
    "zero-envs": ("[trainer]\nnum_envs = 0\n", "trainer.num_envs: must be >= 1, not 0"),
    "minibatch-too-big": (
        "[trainer]\nnum_envs = 2\nnum_steps = 8\nminibatch_size = 32\n",
        "must divide num_envs*num_steps = 2*8 = 16",
    ),
    "minibatch-not-dividing": (
        "[games.Pong]\nminibatch_size = 100\n",
        "games.Pong.minibatch_size: is 100; must divide",
    ),
    "profile-undefined-game": (
        '[games.Pong]\n[profiles.p]\ngames = ["Breakout"]\n',
        "profiles.p.games: names game 'Breakout' that [games] does not define",
    ),
    "negative-price": (
        "[hosts.tnr-0]\nprice_per_gpu_hour = -1.0\n",
        "hosts.tnr-0.price_per_gpu_hour: must be >= 0",
    ),
    "empty-alias": ('[hosts." "]\nssh_alias = ""\n', "ssh_alias: must not be empty"),
    "list-for-table": ("trainer = [1, 2]\n", "trainer: must be a table, not a list"),
    "fraction-out-of-range": (
        "[guard]\nmax_gpu_memory_fraction = 1.5\n",
        "guard.max_gpu_memory_fraction: must be <= 1, not 1.5",
    ),
    "ramp-undefined-game": ('[ramp]\ngames = ["Tetris"]\n', "ramp.games: names game 'Tetris'"),
}


@pytest.mark.parametrize("name", list(BAD_CONFIGS))
def test_bad_config_gives_one_clear_line(name: str) -> None:
    text, expected = BAD_CONFIGS[name]
    with pytest.raises(ConfigError) as info:
        config.loads(text, "my.toml")
    message = str(info.value)
    assert message.startswith("my.toml"), message
    assert expected in message
    assert "\n" not in message


def test_error_names_the_line() -> None:
    text = "# comment\n[trainer]\nseed = 1\nnum_envs = -3\n"
    with pytest.raises(ConfigError, match=r"^my.toml:4: trainer.num_envs"):
        config.loads(text, "my.toml")


@pytest.mark.parametrize("name", ["unknown-key", "unknown-game", "zero-envs", "negative-price"])
def test_config_check_exits_2_and_writes_nothing(name: str, tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(BAD_CONFIGS[name][0])
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    proc = _controlroom("config", "check", "--config", str(path), cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and BAD_CONFIGS[name][1] in proc.stderr
    assert "Traceback" not in proc.stderr
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_shipped_config_holds_the_logs_numbers(repo_root: Path) -> None:
    cfg = config.load(repo_root / "config.toml")
    light, medium, heavy = (cfg.profiles[n] for n in ("light", "medium", "heavy"))
    assert (len(light.games), light.num_envs, light.minibatch_size) == (2, 32, 512)
    assert (len(medium.games), medium.num_envs, medium.minibatch_size) == (4, 64, 1024)
    assert (len(heavy.games), heavy.num_envs, heavy.minibatch_size) == (8, 256, 2048)
    nine = {
        "MsPacman",
        "BeamRider",
        "Asteroids",
        "Enduro",
        "Pong",
        "Freeway",
        "SpaceInvaders",
        "Seaquest",
        "Breakout",
    }
    assert nine <= set(cfg.games)
    assert all(cfg.games[g].target_episodes == 25_000 for g in nine)
    assert cfg.hosts["tnr-0"].ssh_alias == "tnr-0"


def test_load_save_load_is_the_same_model(repo_root: Path, tmp_path: Path) -> None:
    cfg = config.load(repo_root / "config.toml")
    config.save(cfg, tmp_path / "out.toml")
    again = config.load(tmp_path / "out.toml")
    assert again == cfg
    assert again.game_settings("CartPole")["env_id"] == "CartPole-v1"


def test_starter_is_the_documented_example(repo_root: Path) -> None:
    assert config.starter_text() == (repo_root / "config.toml").read_text()


def test_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    xdg, here, env = tmp_path / "xdg", tmp_path / "here", tmp_path / "env.toml"
    (xdg / "controlroom").mkdir(parents=True)
    here.mkdir()
    monkeypatch.chdir(here)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(xdg))
    monkeypatch.delenv("CONTROLROOM_CONFIG", raising=False)
    assert config.find_config() is None
    (here / "config.toml").write_text("")
    assert config.find_config() == Path("config.toml")
    (xdg / "controlroom" / "config.toml").write_text("")
    assert config.find_config() == xdg / "controlroom" / "config.toml"
    env.write_text("")
    monkeypatch.setenv("CONTROLROOM_CONFIG", str(env))
    assert config.find_config() == env
    assert config.find_config(str(here / "config.toml")) == here / "config.toml"
    with pytest.raises(ConfigError, match="no such config file"):
        config.find_config(str(tmp_path / "missing.toml"))


def test_init_writes_once_and_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "config.toml"
    first = _controlroom("init", "--config", str(target), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    target.write_text("# mine\n")
    second = _controlroom("init", "--config", str(target), cwd=tmp_path)
    assert second.returncode == 2 and "--force" in second.stderr
    assert target.read_text() == "# mine\n"
    forced = _controlroom("init", "--config", str(target), "--force", cwd=tmp_path)
    assert forced.returncode == 0
    config.load(target)


def test_help_and_version(tmp_path: Path) -> None:
    helped = _controlroom("--help", cwd=tmp_path)
    assert helped.returncode == 0
    for word in ("HOST", "local", "agent", "init", "config check"):
        assert word in helped.stdout
    assert _controlroom("--version", cwd=tmp_path).stdout.startswith("controlroom ")


def _controlroom(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "controlroom", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(cwd), "XDG_CONFIG_HOME": str(cwd / "xdg")},
    )


BLOCK_HOST_EXTRA = (
    HIDE_EXTRA
    + """
from controlroom.cli import main
sys.exit(main(sys.argv[1:]))
"""
)


@pytest.mark.parametrize("argv", [["agent", "run"], ["train", "--game", "Pong"]])
def test_laptop_install_gets_an_install_hint_not_a_traceback(
    argv: list[str], tmp_path: Path
) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", BLOCK_HOST_EXTRA, *argv, "--state-dir", str(tmp_path)]
        if argv[0] == "agent"
        else [sys.executable, "-c", BLOCK_HOST_EXTRA, *argv],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'controlroom[agent]'" in proc.stderr
    assert "Traceback" not in proc.stderr

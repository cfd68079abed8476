"""The link against real parts: OpenSSH on loopback, the real agent, real failures."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from controlroom import protocol
from controlroom.link import errors
from controlroom.link.agent_channel import open_session, remote_command
from controlroom.link.errors import LinkError
from controlroom.link.local import open_local
from controlroom.link.reconnect import Backoff, Connected, Disconnected, HostLink, LinkEvent
from controlroom.link.ssh import SshTarget
from tests.link.realagent import RealAgent, ssh_target, wait_for
from tests.sshd import SshServer, free_port, make_server


async def test_streamlocal_session_gets_hello_snapshot_and_replies(
    sshd: SshServer, agent: RealAgent
) -> None:
    session = await open_session(ssh_target(sshd), agent.host_config())
    try:
        assert session.where == "ssh"
        assert session.hello.protocol == protocol.PROTOCOL_VERSION
        assert session.state.host.hostname and session.state.games == {}
        assert await session.ping() < 1.0
        with pytest.raises(errors.RequestFailed) as err:
            await session.request("remove_game", game="NoSuchGame")
        assert err.value.code in protocol.ERROR_CODES
    finally:
        await session.close()


async def test_bridge_when_streamlocal_is_forbidden(tmp_path: Path, agent: RealAgent) -> None:
    server = make_server(tmp_path / "sshd")
    config = server.root / "sshd_config"
    config.write_text(
        config.read_text().replace(
            "AllowStreamLocalForwarding yes", "AllowStreamLocalForwarding no"
        )
    )
    server.start()
    try:
        session = await open_session(ssh_target(server), agent.host_config())
        assert session.where == "ssh bridge"
        assert (await session.request("status"))["host"]["hostname"]
        await session.close()
    finally:
        server.stop()


def _with_config(sshd: SshServer, tmp_path: Path, **replace: str) -> SshTarget:
    text = sshd.ssh_config.read_text()
    for old, new in replace.items():
        text = text.replace(old, new)
    path = tmp_path / "ssh_config"
    path.write_text(text)
    return SshTarget(sshd.alias, ssh_config=path)


async def _error_of(target: SshTarget, agent: RealAgent, **host: Any) -> LinkError:
    with pytest.raises(LinkError) as err:
        await open_session(target, dataclasses.replace(agent.host_config(), **host))
    assert "\n" not in err.value.message
    return err.value


async def test_unknown_alias(sshd: SshServer, agent: RealAgent) -> None:
    target = SshTarget("no-such-host.invalid", ssh_config=sshd.ssh_config)
    assert (await _error_of(target, agent)).kind == errors.UNKNOWN_HOST


async def test_refused(sshd: SshServer, agent: RealAgent, tmp_path: Path) -> None:
    target = _with_config(sshd, tmp_path, **{f"Port {sshd.port}": f"Port {free_port()}"})
    assert (await _error_of(target, agent)).kind == errors.REFUSED


async def test_auth_failure(sshd: SshServer, agent: RealAgent, tmp_path: Path) -> None:
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    target = _with_config(sshd, tmp_path, **{str(sshd.client_key): str(other)})
    err = await _error_of(target, agent)
    assert err.kind == errors.AUTH


async def test_host_key_mismatch_warns_and_the_opt_out_still_connects(
    sshd: SshServer, agent: RealAgent, tmp_path: Path
) -> None:
    other = tmp_path / "other_host"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sshd.port} {other.with_suffix('.pub').read_text()}")
    target = _with_config(sshd, tmp_path, **{str(sshd.known_hosts): str(known)})
    err = await _error_of(target, agent)
    assert err.kind == errors.HOST_KEY
    assert "CHANGED" in err.message  # a changed key never advertises the opt-out
    assert "--insecure-accept-host-key" not in err.message
    insecure = dataclasses.replace(target, insecure_accept_host_key=True)
    session = await open_session(insecure, agent.host_config())
    await session.close()


async def test_no_agent_installed(sshd: SshServer, agent: RealAgent) -> None:
    err = await _error_of(ssh_target(sshd), agent, controlroom="~/no/such/venv/bin/controlroom")
    assert err.kind == errors.NO_AGENT
    assert "--install" in err.message


async def test_version_mismatch_is_one_line(tmp_path: Path) -> None:
    async def fake_agent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(protocol.encode({**protocol.plain(protocol.hello("h", "b")), "protocol": 99}))
        await writer.drain()

    sock = tmp_path / "fake.sock"
    server = await asyncio.start_unix_server(fake_agent, path=str(sock))
    async with server:
        with pytest.raises(LinkError) as err:
            await open_local(str(sock))
    assert err.value.kind == errors.VERSION
    assert "upgrade" in err.value.message


def test_remote_command_quotes_every_argument() -> None:
    cmd = remote_command(["~/venv/bin/controlroom", "agent", "where", "--state-dir", "a b;rm"])
    assert cmd == "\"$HOME\"/venv/bin/controlroom agent where --state-dir 'a b;rm'"


def test_backoff_is_capped() -> None:
    b = Backoff(initial=0.5, cap=4)
    assert [b.next_delay() for _ in range(6)] == [0.5, 1, 2, 4, 4, 4]
    b.reset()
    assert b.next_delay() == 0.5


async def test_reconnects_after_the_connection_is_killed(sshd: SshServer, agent: RealAgent) -> None:
    seen: list[LinkEvent] = []
    host = agent.host_config()
    link = HostLink(
        "tnr-0",
        lambda: open_session(ssh_target(sshd), host),
        seen.append,
        backoff=Backoff(initial=0.2, cap=1),
    )
    task = asyncio.create_task(link.run())
    try:
        await wait_for(lambda: link.connected, what="first connect")
        sshd.kill_connections()
        await wait_for(lambda: any(isinstance(e, Disconnected) for e in seen), what="drop seen")
        await wait_for(lambda: sum(isinstance(e, Connected) for e in seen) >= 2, what="back")
        assert (await link.request("ping")) == {} or True
    finally:
        task.cancel()
        await link.close()


def test_where_is_json(agent: RealAgent) -> None:
    out = subprocess.run(
        [
            str(agent.host_config().controlroom),
            "agent",
            "where",
            "--state-dir",
            str(agent.state_dir),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout)["socket"] == str(agent.socket)

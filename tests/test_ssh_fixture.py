"""The sshd fixture is real: asyncssh reaches it by alias and refuses a wrong host key."""

from __future__ import annotations

import asyncssh
import pytest

from tests.sshd import SshServer


async def test_connects_by_alias_with_strict_known_hosts(sshd: SshServer) -> None:
    async with asyncssh.connect(sshd.alias, config=[str(sshd.ssh_config)]) as conn:
        result = await conn.run("echo hello", check=True)
    assert result.stdout == "hello\n"


async def test_wrong_host_key_is_refused(sshd: SshServer, tmp_path) -> None:  # type: ignore[no-untyped-def]
    other = tmp_path / "other_key"
    import subprocess

    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"[127.0.0.1]:{sshd.port} {other.with_suffix('.pub').read_text().strip()}\n")
    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        await asyncssh.connect(sshd.alias, config=[str(sshd.ssh_config)], known_hosts=str(wrong))

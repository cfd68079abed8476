"""Strict host keys against the real sshd: settings that would switch checking off are refused,
and an unknown key and a changed key get different, honest advice."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import asyncssh
import pytest

from controlroom.link import errors
from controlroom.link.errors import LinkError
from controlroom.link.ssh import SshTarget, connect
from tests.sshd import SshServer

FLAG = "--insecure-accept-host-key"


def _config(
    sshd: SshServer, tmp_path: Path, *, known: str | None = None, extra: str = "", before: str = ""
) -> SshTarget:
    """The fixture's ssh config, with another UserKnownHostsFile and extra lines for tnr-0."""
    text = sshd.ssh_config.read_text()
    if known is not None:
        text = text.replace(f"UserKnownHostsFile {sshd.known_hosts}", f"UserKnownHostsFile {known}")
    text = text.replace("    StrictHostKeyChecking yes\n", extra)
    path = tmp_path / "ssh_config"
    path.write_text(before + text)
    return SshTarget(sshd.alias, ssh_config=path)


def _other_key(tmp_path: Path) -> asyncssh.SSHKey:
    key = tmp_path / "other_host"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    return asyncssh.read_public_key(str(key.with_suffix(".pub")))


def _known_hosts(tmp_path: Path, sshd: SshServer, key: asyncssh.SSHKey | None) -> Path:
    path = tmp_path / "known_hosts"
    line = f"[127.0.0.1]:{sshd.port} {key.export_public_key().decode()}" if key else ""
    path.write_text(line)
    return path


async def _refused(target: SshTarget) -> LinkError:
    with pytest.raises(LinkError) as err:
        await connect(target)
    assert err.value.kind == errors.HOST_KEY
    assert "\n" not in err.value.message
    return err.value


async def _connects(target: SshTarget) -> None:
    conn = await connect(target)
    conn.close()
    await conn.wait_closed()


def _server_fingerprint(sshd: SshServer) -> str:
    return str(
        asyncssh.read_public_key(str(sshd.host_key.with_suffix(".pub"))).get_fingerprint("sha256")
    )


async def test_user_known_hosts_none_is_refused_unless_opted_out(
    sshd: SshServer, tmp_path: Path
) -> None:
    # A conflicting key in the default-looking file must not matter: `none` reads no file.
    _known_hosts(tmp_path, sshd, _other_key(tmp_path))
    target = _config(sshd, tmp_path, known="none")
    err = await _refused(target)
    assert "UserKnownHostsFile none" in err.message
    assert f"{target.ssh_config} line 6" in err.message
    assert FLAG in err.message
    await _connects(dataclasses.replace(target, insecure_accept_host_key=True))


async def test_none_in_an_earlier_host_star_block_is_found(sshd: SshServer, tmp_path: Path) -> None:
    target = _config(sshd, tmp_path, before="Host *\n    UserKnownHostsFile=NONE\n\n")
    err = await _refused(target)
    assert "UserKnownHostsFile NONE" in err.message and "line 2" in err.message


async def test_none_for_another_host_does_not_matter(sshd: SshServer, tmp_path: Path) -> None:
    target = _config(sshd, tmp_path, before="Host elsewhere\n    UserKnownHostsFile none\n\n")
    await _connects(target)


async def test_dev_null_known_hosts_is_refused(sshd: SshServer, tmp_path: Path) -> None:
    target = _config(sshd, tmp_path, known="/dev/null")
    err = await _refused(target)
    assert "UserKnownHostsFile /dev/null" in err.message and FLAG in err.message
    await _connects(dataclasses.replace(target, insecure_accept_host_key=True))


async def test_unknown_key_says_how_to_accept(sshd: SshServer, tmp_path: Path) -> None:
    known = _known_hosts(tmp_path, sshd, None)
    target = _config(sshd, tmp_path, known=str(known))
    err = await _refused(target)
    assert "not in known_hosts" in err.message and str(known) in err.message
    assert f"ssh -F {target.ssh_config} tnr-0" in err.message
    assert _server_fingerprint(sshd) in err.message
    assert FLAG in err.message
    assert "CHANGED" not in err.message and "man-in-the-middle" not in err.message


@pytest.mark.parametrize("value", ["no", "accept-new"])
async def test_lax_strict_host_key_checking_is_not_honoured(
    sshd: SshServer, tmp_path: Path, value: str
) -> None:
    known = _known_hosts(tmp_path, sshd, None)
    target = _config(sshd, tmp_path, known=str(known), extra=f"    StrictHostKeyChecking {value}\n")
    err = await _refused(target)
    assert "not in known_hosts" in err.message
    assert f"StrictHostKeyChecking {value}` ({target.ssh_config} line 7) is ignored" in err.message
    # ...and with the key known, the same setting connects as always.
    await _connects(_config(sshd, tmp_path, extra=f"    StrictHostKeyChecking {value}\n"))


async def test_changed_key_warns_of_an_attack_and_never_offers_the_opt_out(
    sshd: SshServer, tmp_path: Path
) -> None:
    known = _known_hosts(tmp_path, sshd, _other_key(tmp_path))
    target = _config(sshd, tmp_path, known=str(known))
    err = await _refused(target)
    assert "CHANGED" in err.message and "man-in-the-middle" in err.message
    assert _server_fingerprint(sshd) in err.message
    assert f"ssh-keygen -R '[127.0.0.1]:{sshd.port}' -f {known}" in err.message
    assert "not in known_hosts" not in err.message
    assert FLAG not in err.message and "insecure" not in err.message


async def test_a_missing_known_hosts_file_means_unknown_not_unreachable(
    sshd: SshServer, tmp_path: Path
) -> None:
    missing = tmp_path / "no_such_known_hosts"
    err = await _refused(_config(sshd, tmp_path, known=str(missing)))
    assert "not in known_hosts" in err.message and f"{missing}, missing" in err.message

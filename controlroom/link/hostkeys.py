"""Strict host keys: what the user's ssh config says about them, and honest advice on failure.

Strict means the server's key must match a key recorded in a known_hosts file, and nothing
but the explicit `--insecure-accept-host-key` ever connects otherwise. For each ssh-config
setting that could weaken that:

- `UserKnownHostsFile none`: asyncssh reads it as "check no host key at all" (OpenSSH does
  not). Refused before connecting, naming the setting and its file and line, unless the
  opt-out is given.
- `UserKnownHostsFile /dev/null` (the only file listed): no key is ever recorded there, so
  none can be verified and `ssh HOST` cannot fix it. Refused the same way.
- `StrictHostKeyChecking no`, `off`, `accept-new`: not honoured. asyncssh never accepts or
  records an unknown key by itself, so an unknown key is refused with the "not in
  known_hosts" advice, which says that the setting was ignored. A known, matching key
  connects as always. `yes` and `ask` need nothing.

A known_hosts file named in the config but missing counts as empty (as in OpenSSH), so the
host is unknown, not unreachable.

An unknown key and a changed key get different messages: an unknown key is accepted by
running `ssh HOST` once (or the opt-out); a changed key may be a man-in-the-middle attack,
so its message shows the offered fingerprint and `ssh-keygen -R`, never the opt-out.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import asyncssh
from asyncssh.config import SSHClientConfig

from controlroom.link.errors import HOST_KEY, LinkError

INSECURE_FLAG = "--insecure-accept-host-key"
DEFAULT_KNOWN_HOSTS = Path("~", ".ssh", "known_hosts")
NO_FILE = os.devnull
LAX_STRICT_VALUES = frozenset({"no", "off", "accept-new"})


@dataclass(frozen=True)
class Setting:
    """One ssh-config option as it applies to a host, and where it was set."""

    values: tuple[str, ...]
    where: str
    """'FILE line N'"""

    def text(self, name: str) -> str:
        return f"`{name} {' '.join(self.values)}` ({self.where})"


@dataclass(frozen=True)
class HostKeyConfig:
    """The host-key settings of the user's ssh config for one alias."""

    user_known_hosts: Setting | None = None
    global_known_hosts: Setting | None = None
    strict: Setting | None = None

    def known_hosts_files(self) -> list[str]:
        """The files asyncssh checks the host key against (its rules, so the advice agrees)."""
        files = [*self._values(self.user_known_hosts), *self._values(self.global_known_hosts)]
        if files:
            return files
        default = DEFAULT_KNOWN_HOSTS.expanduser()
        return [str(default)] if default.is_file() else []

    def known_hosts_arg(self) -> list[str] | asyncssh.SSHKnownHosts | None:
        """What to pass asyncssh as known_hosts: None (its own reading of the config) unless
        a configured file is missing, which OpenSSH reads as empty but asyncssh as a failed
        connection ("No such file"): then the files that exist, or an empty set."""
        files = self.known_hosts_files()
        present = [f for f in files if Path(f).is_file()]
        if present == files:
            return None
        return present or asyncssh.import_known_hosts("")

    @staticmethod
    def _values(setting: Setting | None) -> list[str]:
        if setting is None or tuple(v.lower() for v in setting.values) == ("none",):
            return []
        return [str(Path(v).expanduser()) for v in setting.values]


class _Recording(SSHClientConfig):
    """asyncssh's own ssh-config reader (same Host/Match/Include rules as the connection),
    which also notes where the host-key options were set, and reads StrictHostKeyChecking,
    which asyncssh itself ignores."""

    _watched = ("UserKnownHostsFile", "GlobalKnownHostsFile", "StrictHostKeyChecking")

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.seen: dict[str, Setting] = {}

    def _note(self, option: str, args: list[str]) -> None:
        if option not in self.seen:  # like ssh, the first value that applies wins
            self.seen[option] = Setting(tuple(args), f"{self._path} line {self._line_no}")
        args.clear()


_Recording._handlers = {
    **SSHClientConfig._handlers,
    **{name.lower(): (name, _Recording._note) for name in _Recording._watched},
}


def read_config(alias: str, config_paths: Sequence[str]) -> HostKeyConfig:
    """The host-key settings for `alias` in these ssh config files (none if unreadable:
    the connection itself then reports the broken file)."""
    try:
        loaded = _Recording.load(
            None, list(config_paths), False, False, False, getpass.getuser(), (), alias, ()
        )
    except (OSError, asyncssh.Error, ValueError):
        return HostKeyConfig()
    seen = cast(_Recording, loaded).seen
    return HostKeyConfig(
        seen.get("UserKnownHostsFile"),
        seen.get("GlobalKnownHostsFile"),
        seen.get("StrictHostKeyChecking"),
    )


def refuse_unchecked(alias: str, ssh_cmd: str, config: HostKeyConfig) -> LinkError | None:
    """A LinkError when the ssh config turns host-key checking off (see the module doc)."""
    setting = config.user_known_hosts
    if setting is None:
        return None
    values = tuple(v.lower() for v in setting.values)
    if values == ("none",):
        effect = "turns host-key checking off"
    elif all(Path(v).expanduser() == Path(NO_FILE) for v in setting.values):
        effect = "keeps no host key, so none can be checked"
    else:
        return None
    return LinkError(
        HOST_KEY,
        f"{setting.text('UserKnownHostsFile')} {effect} for {alias}, and controlroom checks "
        f"host keys strictly: remove that line (then `{ssh_cmd}` once to record the key), "
        f"or pass {INSECURE_FLAG} to connect without checking",
    )


@dataclass
class OfferedKey:
    """The key a server offered that matched no known_hosts entry (filled in by the client)."""

    host: str = ""
    addr: str = ""
    port: int = 22
    key: asyncssh.SSHKey | None = None

    def fingerprint(self) -> str:
        if self.key is None:
            return ""
        return f"{self.key.get_algorithm()} key {self.key.get_fingerprint('sha256')}"

    def known_hosts_name(self) -> str:
        """How ssh names this host in known_hosts (and in `ssh-keygen -R`)."""
        return self.host if self.port == 22 else f"[{self.host}]:{self.port}"


class StrictClient(asyncssh.SSHClient):
    """Accepts only what known_hosts trusts, and remembers the key it was offered otherwise."""

    def __init__(self) -> None:
        self.offered = OfferedKey()

    def validate_host_public_key(
        self, host: str, addr: str, port: int, key: asyncssh.SSHKey
    ) -> bool:
        # asyncssh asks only about a key that no known_hosts entry trusts: never trust it.
        self.offered = OfferedKey(host, addr, port, key)
        return False


def recorded_keys(offered: OfferedKey, files: list[str]) -> list[asyncssh.SSHKey]:
    """The keys known_hosts holds for the offered host (none: the host is unknown)."""
    if not files or not offered.host:
        return []
    port = None if offered.port == 22 else offered.port
    try:
        keys = asyncssh.match_known_hosts(files, offered.host, offered.addr, port)[0]
    except (OSError, ValueError, asyncssh.Error):
        return []
    return list(keys)


def explain_rejected(
    alias: str, ssh_cmd: str, config: HostKeyConfig, offered: OfferedKey
) -> LinkError:
    """The message for a refused host key: unknown, or changed (maybe an attack)."""
    files = config.known_hosts_files()
    present = [f for f in files if Path(f).is_file()]
    if recorded_keys(offered, present):
        return _changed(alias, ssh_cmd, offered, present)
    return _unknown(alias, ssh_cmd, config, offered, files)


def _unknown(
    alias: str, ssh_cmd: str, config: HostKeyConfig, offered: OfferedKey, files: list[str]
) -> LinkError:
    where = ", ".join(f if Path(f).is_file() else f"{f}, missing" for f in files)
    where = where or f"{DEFAULT_KNOWN_HOSTS}, missing"
    offer = f" (it offers {offered.fingerprint()})" if offered.key is not None else ""
    ignored = ""
    strict = config.strict
    if strict is not None and strict.values and strict.values[0].lower() in LAX_STRICT_VALUES:
        ignored = (
            f"; {strict.text('StrictHostKeyChecking')} is ignored: controlroom never "
            "accepts an unknown key by itself"
        )
    return LinkError(
        HOST_KEY,
        f"host key for {alias} is not in known_hosts ({where}){offer}: run `{ssh_cmd}` once "
        f"and accept it after checking the fingerprint, or pass {INSECURE_FLAG} to skip "
        f"host-key checking{ignored}",
    )


def _changed(alias: str, ssh_cmd: str, offered: OfferedKey, files: list[str]) -> LinkError:
    name = offered.known_hosts_name()
    remove = f"ssh-keygen -R '{name}'"
    user_file = files[0]
    if Path(user_file) != DEFAULT_KNOWN_HOSTS.expanduser():
        remove += f" -f {user_file}"
    return LinkError(
        HOST_KEY,
        f"host key for {alias} ({name}) CHANGED: it now offers {offered.fingerprint()}, "
        f"not the key recorded in {', '.join(files)}. This may be a man-in-the-middle "
        f"attack. Compare that fingerprint with the host's own (on its console: "
        f"`ssh-keygen -lf /etc/ssh/ssh_host_{_key_type(offered)}_key.pub`); only if the change "
        f"is expected (reinstalled host), run `{remove}`, then `{ssh_cmd}` once to record "
        f"the new key",
    )


def _key_type(offered: OfferedKey) -> str:
    """The host-key file's infix for the offered algorithm (ed25519, ecdsa, rsa)."""
    alg = offered.key.get_algorithm() if offered.key is not None else ""
    for name in ("ed25519", "ecdsa", "rsa"):
        if name in alg.lower():
            return name
    return "*"

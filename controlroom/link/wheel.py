"""Pack the running controlroom into a wheel, so a host gets exactly this build.

The wheel carries a build id (a hash of everything in it) in its dist-info `BUILD` file:
two builds of one version differ there, so an install can tell "already installed" from
"same version, other code" (an edited checkout), which pip's version check cannot.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import controlroom
from controlroom import __version__

WHEEL_META = (
    "Wheel-Version: 1.0\nGenerator: controlroom\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
)
ENTRY_POINTS = "[console_scripts]\ncontrolroom = controlroom.cli:main\n"
BUILD_FILE = "BUILD"
"""the dist-info file holding the build id"""


@dataclass(frozen=True)
class Wheel:
    """A built wheel and the id of its contents."""

    path: Path
    build: str


def build_wheel(out_dir: Path, extra: Sequence[tuple[str, bytes]] = ()) -> Wheel:
    """Write controlroom-<version>-py3-none-any.whl under `out_dir`.

    Args: extra: more (name, bytes) files for the package (the tests make a second
    build of one version this way)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"controlroom-{__version__}-py3-none-any.whl"
    info = f"controlroom-{__version__}.dist-info"
    files = [*_package_files(), *((f"controlroom/{n}", d) for n, d in extra)]
    metadata = _metadata().encode()
    build = build_id([*files, ("METADATA", metadata)])
    records: list[str] = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files:
            _add(zf, records, name, data)
        _add(zf, records, f"{info}/METADATA", metadata)
        _add(zf, records, f"{info}/{BUILD_FILE}", f"{build}\n".encode())
        _add(zf, records, f"{info}/WHEEL", WHEEL_META.encode())
        _add(zf, records, f"{info}/entry_points.txt", ENTRY_POINTS.encode())
        records.append(f"{info}/RECORD,,")
        zf.writestr(f"{info}/RECORD", "\n".join(records) + "\n")
    return Wheel(path, build)


def build_id(files: Sequence[tuple[str, bytes]]) -> str:
    """A short hash of these (name, bytes) files, independent of their order."""
    digest = hashlib.sha256()
    for name, data in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    return digest.hexdigest()[:16]


def _package_files() -> list[tuple[str, bytes]]:
    root = Path(controlroom.__file__).parent
    files = []
    for file in sorted(root.rglob("*")):
        if file.is_file() and "__pycache__" not in file.parts and file.suffix != ".pyc":
            files.append((f"controlroom/{file.relative_to(root).as_posix()}", file.read_bytes()))
    return files


def _metadata() -> str:
    dist = importlib.metadata.distribution("controlroom")
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO")
    if not text:
        return f"Metadata-Version: 2.1\nName: controlroom\nVersion: {__version__}\n"
    return text


def _add(zf: zipfile.ZipFile, records: list[str], name: str, data: bytes) -> None:
    zf.writestr(name, data)
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    records.append(f"{name},sha256={digest},{len(data)}")

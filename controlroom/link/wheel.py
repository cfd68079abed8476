"""Pack the running controlroom into a wheel, so a host gets exactly this version."""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import zipfile
from pathlib import Path

import controlroom
from controlroom import __version__

WHEEL_META = (
    "Wheel-Version: 1.0\nGenerator: controlroom\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
)
ENTRY_POINTS = "[console_scripts]\ncontrolroom = controlroom.cli:main\n"


def build_wheel(out_dir: Path) -> Path:
    """Write controlroom-<version>-py3-none-any.whl under `out_dir` and return its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"controlroom-{__version__}-py3-none-any.whl"
    info = f"controlroom-{__version__}.dist-info"
    records: list[str] = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in _package_files():
            _add(zf, records, name, data)
        _add(zf, records, f"{info}/METADATA", _metadata().encode())
        _add(zf, records, f"{info}/WHEEL", WHEEL_META.encode())
        _add(zf, records, f"{info}/entry_points.txt", ENTRY_POINTS.encode())
        records.append(f"{info}/RECORD,,")
        zf.writestr(f"{info}/RECORD", "\n".join(records) + "\n")
    return path


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

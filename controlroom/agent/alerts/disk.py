"""The disk-low check: free space in the state dir (where runs and checkpoints grow)
against [alerts].disk_low_gib, told once when it falls under and again only after it
came back over (with a margin, so a disk hovering at the line does not chatter).
"""

from __future__ import annotations

from dataclasses import dataclass

GIB = 2**30
REARM = 1.1  # back over 110% of the line re-arms the check


@dataclass
class DiskWatch:
    """Whether the disk is low now, as last told."""

    low: bool = False

    def update(self, free_bytes: int | None, threshold_gib: float) -> str | None:
        """The disk_low message when free space just fell under the line, else None."""
        if free_bytes is None or threshold_gib <= 0:
            return None
        line = threshold_gib * GIB
        if self.low:
            self.low = free_bytes < line * REARM
            return None
        if free_bytes >= line:
            return None
        self.low = True
        return (
            f"disk low: {free_bytes / GIB:.1f} GiB free in the state dir "
            f"(under {threshold_gib:g} GiB); checkpoints and logs may soon fail"
        )

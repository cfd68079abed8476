"""controlroom: supervise RL training on a remote GPU host from a terminal UI."""

__version__ = "0.1.0"
__all__ = ["__version__"]

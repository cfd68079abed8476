"""One PPO trainer process per game (envpool + torch); knows nothing of the agent.

Importing this package is cheap: torch and envpool load only when `main()` runs."""

from controlroom.trainer.cli import main
from controlroom.trainer.settings import SettingsError, TrainerSettings

__all__ = ["SettingsError", "TrainerSettings", "main"]

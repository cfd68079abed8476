"""The host CLI: `controlroom agent ...` in the host's shell, a client of the agent's socket.

It owns the commands (cli, policycli, history_cli), their plain-text views (show), the
socket client (client), the SSH exec-channel bridge (bridge) and start-at-boot (autostart).
The top room: it may import anything below it (`agent run` starts the daemon through
agent/run.py; the state dir and config copy come from storage); nothing in the agent
imports it but `python -m controlroom.agent` (pyproject's `agent-rooms` contract).
"""

"""Learning curves: each game's history in bounded memory, rebuilt from its run files,
and what looks wrong in it.

It owns the pure curve (history) and rules (diagnosis), both free of state and I/O
(pyproject's `pure-learning` contract), the rebuild from a trainer's files
(history_files) and the agent's set of histories fed by the supervisor's tails
(histories). It may import supervision, storage and agent/errors.py; nothing below it
imports it, so supervision records a game's findings without knowing the rules
(pyproject's `agent-rooms` contract).
"""

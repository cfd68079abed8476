"""Is the agent any good? Evaluation of a game's policy, owned here on the agent side.

The agent never loads a policy itself (no torch here: the import contracts say so). It
runs the trainer's evaluator, `python -m controlroom.trainer.evaluate`, as a process of
its own at low priority on the CPU, and relays what it prints:

- runner.py    the evaluator's command line, running it, reading its JSON result
- service.py   `Evaluations`: at most a few at once, one per game, and the periodic
               evaluation (`eval_every_minutes`: a game's, else its profile's, else the
               host's) whose scores go to the game's history
- ops.py       the protocol ops it serves (`evaluate`), dispatched by daemon.py
- watch.py     the frames of a watched episode, relayed to the TUI

`controlroom agent eval|record GAME ...` is hostcli/eval_cli.py, with the host CLI.
It imports learning (each score goes to the game's history), supervision and storage,
never the daemon or the host CLI (the agent-rooms contract).
"""

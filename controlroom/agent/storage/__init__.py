"""The agent's memory on disk: the state dir, the SQLite store and the config copy in it.

It owns where things live (paths), the store (store: the tables; database: the SQLite file
and its writes owed under another process's lock, bounded by owed; rows: rows to values and
back), the supervisor's writes kept while SQLite refuses them (pending), the agent's copy of
its config (configfile) and the record of each boot (boots). Below supervision and learning:
it imports nothing of the agent (only protocol, config and the standard library), so every
room above may persist through it (pyproject's `agent-rooms` contract).
"""

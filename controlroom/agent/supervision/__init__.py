"""Running trainers: what to start, on which GPUs, how, and keeping them alive.

It owns the reconcile loop (supervisor), why a trainer ended (exits), one game's run
(gamerun), trainer processes (process), settings and argument lists (launch, quarantine for
stored settings that fail them), multi-GPU and multi-host jobs (job, job_parts, spannet),
GPU placement (placement) and what a trainer leaves in its run dir (runfiles). It may import
storage, readings and agent/errors.py, never learning, policy, the daemon or the host CLI
(pyproject's `agent-rooms` contract).
"""

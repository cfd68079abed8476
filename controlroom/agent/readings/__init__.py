"""The host's readings: GPUs through NVML (or a recording), CPU, RAM, load and disk.

It owns the GPU readers (nvml), the telemetry sampler (telemetry) and the plain types
the decisions read (reading). A leaf: it imports nothing of the agent, only protocol,
config and the host libraries (pynvml, psutil), so placement and the pure policy rules
may take its types (pyproject's `agent-rooms` contract).
"""

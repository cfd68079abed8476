"""Load policies run by the agent: profiles, guard, ramp, migration, trials, plan, queue."""

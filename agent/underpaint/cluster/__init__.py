"""Studio mode: the gateway's side of Ray workers (one actor per GPU) and the studio's users.

Only the engine step of a job runs in a worker (worker.py); the gateway keeps the protocol, the queue,
the planner and composer, the event log, the history and the result files, and reaches the workers
through jobs/lanes.py's interface (gateway.py). Nothing here is imported unless the agent is started
with `--cluster`, so a single-process agent never imports Ray.
"""

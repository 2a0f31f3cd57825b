"""The use cases: everything a user (or a worker) can ask of gridwait, in one layer.

The CLI and the HTTP API parse, call a function here and render what it returns, so
the two can never disagree. Every function takes `Deps` (settings, clock, the store)
and, for a user's action, the acting user (`Actor`); it checks role and ownership
itself, opens the database transactions, and returns typed views (`views.py`) whose
field names carry their units.

    jobs.py       submit, cancel, show, queue
    estimates.py  a job's estimate before it runs (and what submit stores)
    planning.py   the plan of the queue, as a dry run
    budgets.py    set, list, remove, and the one usage of a month
    history.py    history, reports, export rows
    runs.py       a worker's run: start, heartbeat with samples, finish, suspended
"""

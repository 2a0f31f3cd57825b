"""The HTTP API: the use cases of `gridwait.app` over JSON, for the lab.

Routes parse, authenticate, call one use case and return its view unchanged; errors map to
HTTP once, in `problems.py`. Every route under /api needs a bearer token except health.

    app.py       the FastAPI application: routers, error handlers, body limit
    auth.py      bearer tokens -> the acting user; a run's own token -> its run
    problems.py  gridwait's errors as RFC 9457 problem+json
    jobs.py      submit, queue, show, cancel, plan, forecast
    review.py    history, report, export, budgets
    users.py     me, users and tokens
    server.py    uvicorn in a thread beside the scheduler
"""

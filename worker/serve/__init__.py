"""`scorer serve`: the model behind a synchronous HTTP API, batched like the worker.

`request_scorer` checks and scores one request (the worker's record rules, batching scorer and
result lines); `app` is the Starlette application around it; `server` runs it on uvicorn with
the model, signals and graceful stop; `openapi` describes it from the pydantic contracts.
"""

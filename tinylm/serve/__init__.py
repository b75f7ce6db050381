"""`tinylm serve`: an OpenAI-compatible HTTP API and an offline web page over loaded models.

registry (which models are loaded, by id) -> worker (one thread runs every model call, with a
bounded queue) -> completions / api / runs (the routes) -> app (the FastAPI application, its
guard and errors) -> server (uvicorn on a socket, stopped by a signal). static/ holds the page.
"""

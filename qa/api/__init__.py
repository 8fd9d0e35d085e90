"""HTTP API: `create_app` builds the FastAPI application (see api.py for `uvicorn api:app`)."""

from qa.api.app import create_app

__all__ = ["create_app"]

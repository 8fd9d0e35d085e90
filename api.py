"""ASGI entry point: `uvicorn api:app`. Configuration comes from QA_* environment variables."""

from qa.api import create_app
from qa.config import get_settings
from qa.logs import configure_logging

configure_logging(get_settings().log_level)
app = create_app(get_settings())

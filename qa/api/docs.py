"""Swagger UI (/docs) and ReDoc (/redoc) from local files, so the docs work with no network.

The fastapi-offline package ships the Swagger UI and ReDoc bundles (with their
licences); this module only serves them. FastAPI's own pages would load them from
a public CDN and start Swagger UI with an inline script: here the start-up code is
a file too, so the pages' CSP allows scripts from this server only.
"""

from __future__ import annotations

import functools
import html
from importlib.resources import files

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from qa.api.widget import STATIC

ASSETS = "/docs/assets"
# name -> media type; all from fastapi-offline except our start-up script.
_MEDIA = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
    "swagger-init.js": "text/javascript; charset=utf-8",
}
_SWAGGER = """<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - Swagger UI</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<link rel="icon" href="{assets}/favicon.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi}"></div>
<script src="{assets}/swagger-ui-bundle.js"></script>
<script src="{assets}/swagger-init.js"></script>
</body>
</html>
"""
_REDOC = """<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} - ReDoc</title>
<link rel="icon" href="{assets}/favicon.png">
</head>
<body>
<redoc spec-url="{openapi}"></redoc>
<script src="{assets}/redoc.standalone.js"></script>
</body>
</html>
"""

router = APIRouter(include_in_schema=False)


@functools.cache
def _asset(name: str) -> bytes:
    if name == "swagger-init.js":
        return (STATIC / name).read_bytes()
    return files("fastapi_offline").joinpath("static", name).read_bytes()


def _page(request: Request, template: str) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    body = template.format(title=html.escape(request.app.title), assets=html.escape(root + ASSETS),
                           openapi=html.escape(root + (request.app.openapi_url or "/openapi.json")))
    return HTMLResponse(body, headers={"content-security-policy": request.app.state.docs_csp})


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    return _page(request, _SWAGGER)


@router.get("/redoc")
async def redoc(request: Request) -> HTMLResponse:
    return _page(request, _REDOC)


@router.get(ASSETS + "/{name}")
async def asset(name: str) -> Response:
    if name not in _MEDIA:
        raise HTTPException(404, f"no documentation asset {name!r}")
    return Response(_asset(name), media_type=_MEDIA[name], headers={"cache-control": "public, max-age=86400"})

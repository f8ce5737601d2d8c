"""The FastAPI application: routes, middleware, error handlers and the offline API docs."""

import base64
import hashlib
import re
from contextlib import asynccontextmanager
from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles

from api.errors import install_error_handlers
from api.idempotency import IdempotencyMiddleware
from api.metrics import Metrics, MetricsMiddleware
from api.middleware import BodySizeLimitMiddleware, SecurityHeadersMiddleware
from api.rate_limits import RateLimits
from api.routes import auth, health, metrics, orders, products, users
from api.security import API_KEY_HEADER
from domain.bootstrap import Container, bootstrap
from domain.settings import Settings, get_settings
from workers.app import app as celery_app
from workers.publisher import CeleryPublisher

SWAGGER_ASSETS = "/docs-assets"


class UnsafeSettings(RuntimeError):
    """The settings are not safe for ORDERFLOW_ENV=production; the message names each variable."""


def create_app(container: Container | None = None) -> FastAPI:
    """Build the app; tests pass a container, a server gets one wired from the environment.

    Raises UnsafeSettings in production while a secret is missing or has its development value.
    """
    settings = container.settings if container is not None else get_settings()
    _refuse_unsafe(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if container is None:
            app.state.container = bootstrap(settings, CeleryPublisher(celery_app))
        yield
        if container is None:
            app.state.container.dispose()

    app = FastAPI(title="orderflow", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    # A given container is set now, so that clients which skip the lifespan (schemathesis) work.
    app.state.container = container
    app.state.metrics = Metrics()
    app.state.metrics.count_orders_by_status(lambda: app.state.container.orders.counts_by_status())
    app.state.rate_limits = RateLimits(settings)
    install_error_handlers(app)
    _add_middleware(app, settings)
    for module in (auth, users, products, orders, health, metrics):
        app.include_router(module.router)
    _serve_docs_offline(app)
    return app


def _refuse_unsafe(settings: Settings) -> None:
    problems = settings.production_problems()
    if problems:
        raise UnsafeSettings("Refusing to start with ORDERFLOW_ENV=production: " + "; ".join(problems))


def _add_middleware(app: FastAPI, settings: Settings) -> None:
    # Each add_middleware call wraps the ones before it, so the last added runs first:
    # security headers, metrics, CORS, the body size limit, then idempotency (which buffers
    # the body, so the limit must already apply to what it reads).
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_body_bytes)
    if settings.cors_allow_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_allow_origins,
            allow_methods=["GET", "POST", "PATCH"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", API_KEY_HEADER],
            expose_headers=["Location", "Retry-After", "Idempotent-Replayed"],
        )
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    app.add_middleware(SecurityHeadersMiddleware)


def _serve_docs_offline(app: FastAPI) -> None:
    # FastAPI's default /docs loads Swagger UI from a CDN; these assets ship in a wheel.
    # Swagger UI 5 from the fastapi-offline wheel: version 4 cannot render OpenAPI 3.1.
    assets = Path(fastapi_offline.__file__).parent / "static"
    app.mount(SWAGGER_ASSETS, StaticFiles(directory=assets), name="docs-assets")

    def page():
        return get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title="orderflow API",
            swagger_js_url=f"{SWAGGER_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER_ASSETS}/favicon.png",
        )

    csp = docs_content_security_policy(page().body.decode())

    @app.get("/docs", include_in_schema=False)
    def docs():
        response = page()
        response.headers["Content-Security-Policy"] = csp
        return response


def docs_content_security_policy(html: str) -> str:
    """Return a CSP that lets the docs page run its own inline script and load only local assets.

    The inline script that starts Swagger UI is allowed by its SHA-256 hash, so no other inline
    script can run. Swagger UI sets inline styles and shows data: images, so those are allowed.
    """
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
        for script in re.findall(r"<script>(.*?)</script>", html, flags=re.DOTALL)
    )
    return (
        f"default-src 'none'; script-src 'self' {hashes}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    )

"""The FastAPI application: routes, error handlers and the offline API docs."""

from contextlib import asynccontextmanager

import swagger_ui_bundle
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles

from api.errors import install_error_handlers
from api.idempotency import IdempotencyMiddleware
from api.rate_limits import RateLimits
from api.routes import auth, health, orders, products, users
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
    app.state.rate_limits = RateLimits(settings)
    install_error_handlers(app)
    app.add_middleware(IdempotencyMiddleware)
    for module in (auth, users, products, orders, health):
        app.include_router(module.router)
    _serve_docs_offline(app)
    return app


def _refuse_unsafe(settings: Settings) -> None:
    problems = settings.production_problems()
    if problems:
        raise UnsafeSettings("Refusing to start with ORDERFLOW_ENV=production: " + "; ".join(problems))


def _serve_docs_offline(app: FastAPI) -> None:
    # FastAPI's default /docs loads Swagger UI from a CDN; these assets ship in a wheel.
    app.mount(SWAGGER_ASSETS, StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-assets")

    def page():
        return get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title="orderflow API",
            swagger_js_url=f"{SWAGGER_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{SWAGGER_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{SWAGGER_ASSETS}/favicon-32x32.png",
        )

    @app.get("/docs", include_in_schema=False)
    def docs():
        return page()


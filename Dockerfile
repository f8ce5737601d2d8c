# One image for every orderflow service: the API, the Celery workers and beat, Flower, the
# migrations and the SMTP sink. docker-compose.yml sets the command of each service.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md celeryconfig.py ./
COPY api ./api
COPY domain ./domain
COPY workers ./workers
COPY ops ./ops
# Build wheels for the project and every dependency here, so the runtime stage installs
# without network access or build tools.
# NOTE: pyproject.toml gives only lower bounds and there is no lock file, so each build takes
# the newest matching release of every dependency.
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A fixed numeric id lets orchestrators check that the container does not run as root.
RUN groupadd --system --gid 10001 orderflow \
    && useradd --system --uid 10001 --gid orderflow --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin orderflow

COPY --from=build /wheels /wheels
# The versions were resolved when the wheels were built above, so pip needs no pins here.
# hadolint ignore=DL3013
RUN pip install --no-index --find-links=/wheels orderflow \
    && rm -rf /wheels

WORKDIR /app
# alembic.ini and migrations/ are not part of the installed package, and `alembic upgrade
# head` runs from this directory.
COPY alembic.ini ./
COPY migrations ./migrations
# Named volumes mounted on /app/var take this owner, so the non-root user can write the
# beat schedule and the SMTP sink's mbox there.
RUN mkdir /app/var && chown 10001:10001 /app/var

USER 10001:10001
EXPOSE 8000
CMD ["uvicorn", "api.main:app", "--host", "0.0.0.0", "--port", "8000"]

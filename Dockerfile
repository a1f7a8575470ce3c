# syntax=docker/dockerfile:1
# One image for every role: `docker run ironlog api|worker|migrate`.
# The dev extra (embedded Postgres and Redis, test tools) is never installed here.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY core ./core
COPY commands ./commands
COPY queries ./queries
COPY projections ./projections
COPY workers ./workers
COPY api ./api
COPY migrations ./migrations
RUN python -m pip wheel --wheel-dir /wheels .

FROM python:3.11-slim AS runtime
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    IRONLOG_ENV=production \
    IRONLOG_HOST=0.0.0.0 \
    IRONLOG_PORT=8000 \
    IRONLOG_WORKER_METRICS_HOST=0.0.0.0 \
    IRONLOG_WORKER_METRICS_PORT=9191 \
    IRONLOG_DATA_DIR=/var/lib/ironlog
RUN groupadd --system --gid 10001 ironlog \
    && useradd --system --uid 10001 --gid ironlog --home-dir /var/lib/ironlog --create-home ironlog
COPY --from=build /wheels /wheels
RUN python -m pip install --no-index --find-links /wheels ironlog==0.1.0 && rm -rf /wheels
USER 10001:10001
WORKDIR /var/lib/ironlog
EXPOSE 8000 9191
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-m", "api.healthcheck"]
ENTRYPOINT ["ironlog"]
CMD ["api"]

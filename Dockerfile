# The gateway image: `docker build -t data-connector-gateway .`
# Set GATEWAY_DATABASE_URL: without it the gateway starts an embedded PostgreSQL inside the
# container (in /data), which is meant for a laptop, not for production.

FROM python:3.11-slim AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml ./
COPY gateway ./gateway
COPY sql ./sql
# Installing the project pulls in exactly its declared dependencies. The image then runs the
# source tree from /app (the migration runner reads sql/ beside the gateway/ package), so the
# installed copy of the package itself is removed again.
RUN pip install --no-cache-dir /src \
    && pip uninstall --yes data-connector-gateway

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    GATEWAY_HOST=0.0.0.0 \
    GATEWAY_PORT=8080 \
    GATEWAY_DATA_DIR=/data \
    GATEWAY_LOG_FORMAT=json
RUN groupadd --system --gid 10001 gateway \
    && useradd --system --uid 10001 --gid gateway --home-dir /data --shell /usr/sbin/nologin gateway \
    && mkdir /data \
    && chown gateway:gateway /data
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
COPY gateway ./gateway
COPY sql ./sql
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:' + os.environ.get('GATEWAY_PORT', '8080') + '/healthz', timeout=3)"]
CMD ["python", "-m", "gateway", "serve"]

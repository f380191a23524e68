# The gateway image: `docker build -t data-connector-gateway .`
# Set GATEWAY_DATABASE_URL: without it the gateway starts an embedded PostgreSQL inside the
# container (in /data), which is meant for a laptop, not for production.

FROM python:3.11-slim AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gateway ./gateway
# The package carries its migrations and queries, so the installed copy is all the image needs.
# [all]: the client of every broker a connector may publish to.
RUN pip install --no-cache-dir "/src[all]"

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    GATEWAY_HOST=0.0.0.0 \
    GATEWAY_PORT=8080 \
    GATEWAY_PROBE_PORT=8081 \
    GATEWAY_DATA_DIR=/data \
    GATEWAY_LOG_FORMAT=json
RUN groupadd --system --gid 10001 gateway \
    && useradd --system --uid 10001 --gid gateway --home-dir /data --shell /usr/sbin/nologin gateway \
    && mkdir /data \
    && chown gateway:gateway /data
COPY --from=builder /opt/venv /opt/venv
WORKDIR /data
USER 10001:10001
EXPOSE 8080 8081
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; u.urlopen('http://127.0.0.1:' + (os.environ.get('GATEWAY_PROBE_PORT') or os.environ.get('GATEWAY_PORT', '8080')) + '/healthz', timeout=3)"]
CMD ["python", "-m", "gateway", "serve"]

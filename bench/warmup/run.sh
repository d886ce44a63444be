#!/usr/bin/env bash
# Time-to-serve and memory of a server started on a database that holds a
# wide stream: bench/results/2026-12-06-warmup.md.
#
#   bench/warmup/run.sh setup            # (re)creates database tt_warmbench
#   bench/warmup/run.sh measure BIN...   # starts each binary on it, prints a line each
#
# PGADMIN (default postgres://postgres@127.0.0.1:5432/postgres) is the server.
set -euo pipefail
ADMIN=${PGADMIN:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
DB=${ADMIN%%/postgres\?*}/tt_warmbench?sslmode=disable
SERIES=${SERIES:-1000}     # new series per points event
POINTS=${POINTS:-100}      # points events in wide/metrics
ROWS=${ROWS:-3000}         # 20 KB rows in wide/rows

setup() {
	psql -q "$ADMIN" -c 'DROP DATABASE IF EXISTS tt_warmbench WITH (FORCE)' -c 'CREATE DATABASE tt_warmbench'
	DATABASE_URL=$DB "$1" migrate
	psql -q "$DB" <<SQL
SELECT telltale.publish_batch('wide', 'metrics', array(
  SELECT jsonb_build_object('points', jsonb_build_object('ts', jsonb_build_array(1733400000000 + e),
    'cols', (SELECT jsonb_agg(jsonb_build_object('name', 's' || e || '_' || j, 'vals', jsonb_build_array(j))) FROM generate_series(1, $SERIES) j)))
  FROM generate_series(1, $POINTS) e));
SELECT telltale.publish_batch('wide', 'rows', array(
  SELECT jsonb_build_object('row', jsonb_build_object('key', 'k' || i, 'fields', jsonb_build_object('blob', repeat(md5(i::text), 640))))
  FROM generate_series(1, $ROWS) i));
SELECT telltale.publish_batch('small', 'orders', array_fill('{"values":{"n":1}}'::jsonb, ARRAY[100]));
SELECT tenant, stream, last_seq, pg_size_pretty(sum(octet_length(body::text))) AS json
  FROM telltale.events JOIN telltale.streams USING (tenant, stream) GROUP BY 1, 2, 3 ORDER BY 1, 2;
SQL
}

now() { date +%s.%N; }

measure() {
	local bin=$1 cache port web pid t0 listen="-" small="-" ready="-" rss hwm
	cache=$(mktemp -d) web=$(mktemp -d)
	printf '\0asm' >"$web/app.wasm"
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	tok=$(XDG_CACHE_HOME=$cache "$bin" token -tenant small -sub bench)
	t0=$(now)
	XDG_CACHE_HOME=$cache DATABASE_URL=$DB "$bin" -addr 127.0.0.1:$port -web "$web" -demo=false -log-level warn >/dev/null 2>&1 &
	pid=$!
	trap 'kill -9 $pid 2>/dev/null' EXIT
	while [ "$ready" = "-" ] && kill -0 $pid 2>/dev/null; do
		code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 60 http://127.0.0.1:$port/healthz || true)
		if [ "$code" != "000" ] && [ "$listen" = "-" ]; then listen=$(echo "$(now) - $t0" | bc); fi
		if [ "$small" = "-" ] && [ "$code" != "000" ] &&
			[ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 60 -H "Authorization: Bearer $tok" http://127.0.0.1:$port/api/v1/streams/orders/snapshot)" = 200 ]; then
			small=$(echo "$(now) - $t0" | bc)
		fi
		if [ "$code" = 200 ]; then ready=$(echo "$(now) - $t0" | bc); fi
		sleep 0.01
	done
	rss=$(awk '/VmRSS/{print $2}' /proc/$pid/status) hwm=$(awk '/VmHWM/{print $2}' /proc/$pid/status)
	kill -9 $pid; wait $pid 2>/dev/null || true
	trap - EXIT
	rm -rf "$cache" "$web"
	printf '%-30s listening %6.2fs  small/orders served %6.2fs  healthz 200 %6.2fs  RSS %5d MB (peak %5d MB)\n' \
		"$bin" "$listen" "$small" "$ready" $((rss / 1024)) $((hwm / 1024))
}

case ${1:-} in
setup) setup "${2:-telltale}" ;;
measure) shift; for b in "$@"; do measure "$b"; done ;;
*) sed -n 2,9p "$0"; exit 2 ;;
esac

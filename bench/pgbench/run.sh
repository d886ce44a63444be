#!/bin/sh
# Watched-table write throughput, three shapes side by side (issue 20):
# plain one-row inserts, the per-stream lock trigger (before migration 0011)
# and the staged trigger with a sequencer running beside the writers.
#
#   bench/pgbench/run.sh [rounds] [seconds] [clients]
#   UPTO=11 bench/pgbench/run.sh …   only migrations 1..11 (to compare a
#                                    migration's staged path with the one before)
#
# Each round runs the three shapes once, in a rotated order (the machine is
# shared: interleaving spreads its noise over all three). Tables and events
# are emptied and vacuumed before every run. After each staged run it drains
# what is staged and checks the stream's seqs are 1..n with n the table's rows.
set -eu
rounds=${1:-3}
secs=${2:-20}
clients=${3:-8}
db=${DB:-tt_watchbench}
export PGHOST=${PGHOST:-127.0.0.1} PGUSER=${PGUSER:-postgres}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

dropdb --if-exists "$db"
createdb "$db"
psql -qX -v ON_ERROR_STOP=1 -d "$db" -c 'CREATE SCHEMA telltale'
upto=${UPTO:-9999}
for m in "$root"/backend/pgstore/migrations/*.sql; do
	v=$(basename "$m" | sed 's/_.*//; s/^0*//')
	[ "$v" -le "$upto" ] || continue
	psql -qX -v ON_ERROR_STOP=1 -d "$db" -f "$m" >/dev/null
done
psql -qX -v ON_ERROR_STOP=1 -d "$db" -f "$here/setup.sql" >/dev/null

reset() {
	psql -qX -v ON_ERROR_STOP=1 -d "$db" -c 'TRUNCATE plain_orders, lock_orders, staged_orders, telltale.events, telltale.staged, telltale.streams RESTART IDENTITY' \
		-c 'VACUUM ANALYZE plain_orders, lock_orders, staged_orders, telltale.events, telltale.staged, telltale.streams' -c CHECKPOINT
}

one() {
	shape=$1
	reset
	if [ "$shape" = staged ]; then
		pgbench -n -d "$db" -c 1 -R 100 -T "$secs" -f "$here/sequencer.sql" >/tmp/tt_watchbench_seq.out 2>&1 &
		seqpid=$!
	fi
	out=$(pgbench -n -d "$db" -c "$clients" -j 2 -T "$secs" -f "$here/$shape.sql" 2>&1)
	tps=$(echo "$out" | sed -n 's/^tps = \([0-9.]*\).*/\1/p')
	lat=$(echo "$out" | sed -n 's/^latency average = \([0-9.]*\) ms/\1/p')
	extra=""
	if [ "$shape" = staged ]; then
		wait "$seqpid"
		left=$(psql -qXAt -d "$db" -c 'SELECT count(*) FROM telltale.staged')
		psql -qXAt -d "$db" -c 'SELECT count(*) FROM telltale.sequence_staged(1000000)' >/dev/null
		check=$(psql -qXAt -d "$db" -c "SELECT (SELECT count(*) FROM staged_orders) || ' rows, ' || count(*) || ' events, seqs ' || min(seq) || '..' || max(seq) || ', ' || count(DISTINCT (body->'row'->>'key')) || ' keys' FROM telltale.events WHERE stream = 'staged'")
		extra=" staged at the end: $left; $check"
	fi
	if [ "$shape" = lock ]; then
		check=$(psql -qXAt -d "$db" -c "SELECT count(*) || ' events, seqs ' || min(seq) || '..' || max(seq) FROM telltale.events WHERE stream = 'lock'")
		extra=" $check"
	fi
	echo "$shape tps=$tps latency_ms=$lat$extra"
}

echo "# $(date -u +%FT%TZ) $(nproc) cores, $(uptime | sed 's/.*load average/load average/'), rounds=$rounds secs=$secs clients=$clients migrations<=$upto"
i=0
while [ $i -lt "$rounds" ]; do
	case $((i % 3)) in
	0) order="plain lock staged" ;;
	1) order="lock staged plain" ;;
	2) order="staged plain lock" ;;
	esac
	for shape in $order; do one "$shape"; done
	i=$((i + 1))
done
dropdb "$db"

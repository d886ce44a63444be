#!/bin/bash
# cpu_split.sh DB SHAPE [SECS]: PostgreSQL CPU of one pgbench run, split into the
# writers' backends and the sequencer's (utime+stime from /proc over the middle
# SECS-4 s), with pgbench's tps. DB: a database set up as run.sh does (it is not
# dropped). CPU per event = (writers + sequencer) / (tps x seconds).
db=$1; shape=$2; secs=${3:-15}; here=$(cd "$(dirname "$0")" && pwd)
export PGHOST=127.0.0.1 PGUSER=postgres
psql -qX -d $db -c 'TRUNCATE plain_orders, lock_orders, staged_orders, telltale.events, telltale.staged, telltale.streams RESTART IDENTITY' -c 'VACUUM ANALYZE plain_orders, staged_orders, telltale.events, telltale.staged, telltale.streams' -c CHECKPOINT
[ $shape = staged ] && { pgbench -n -d $db -c 1 -R 100 -T $((secs+1)) -f $here/sequencer.sql > /tmp/tt_split_seqs.out 2>&1 & }
pgbench -n -d $db -c 8 -j 2 -T $secs -f $here/$shape.sql > /tmp/tt_split_w.out 2>&1 &
sleep 2
psql -qXAt -d $db -c "select pid, query from pg_stat_activity where datname='$db' and pid <> pg_backend_pid()" > /tmp/tt_split_pids
declare -A t0
while IFS='|' read pid q; do t0[$pid]=$(awk '{print $14+$15}' /proc/$pid/stat); done < /tmp/tt_split_pids
s0=$(date +%s.%N)
sleep $((secs-4))
s1=$(date +%s.%N)
w=0; sq=0
while IFS='|' read pid q; do d=$(( $(awk '{print $14+$15}' /proc/$pid/stat) - ${t0[$pid]} )); case "$q" in *sequence_staged*) sq=$((sq+d));; *) w=$((w+d));; esac; done < /tmp/tt_split_pids
c0=$(psql -qXAt -d $db -c "select count(*) from ${shape}_orders")
wait
echo "$shape writers_cpu_ms=$((w*10)) seq_cpu_ms=$((sq*10)) over $(echo "$s1-$s0"|bc)s; $(grep ^tps /tmp/tt_split_w.out)"

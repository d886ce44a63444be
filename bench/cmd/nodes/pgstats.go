package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/telltale/telltale/bench/proc"
)

// Query classes: what a statement does for Telltale.
const (
	classRead    = "read"    // the follower's read of one stream by seq (pgstore readBounded)
	classScan    = "scan"    // the follower's scan of every stream's last_seq
	classLook    = "look"    // the follower's lingering look at many streams' last_seq (pgstore look)
	classPublish = "publish" // publish_batch / publish
	classListen  = "listen"  // LISTEN
	classOther   = "other"   // revocations, dashboards, SLA rollups, alerts, pool pings, …
)

// classify names the class of one pg_stat_statements query text.
func classify(query string) string {
	q := strings.Join(strings.Fields(query), " ")
	switch {
	case strings.Contains(q, "FROM telltale.events WHERE tenant = $1 AND stream = $2 AND seq > $3") && strings.Contains(q, "pg_column_size"):
		return classRead
	case strings.HasPrefix(q, "SELECT tenant, stream, epoch, last_seq FROM telltale.streams") && !strings.Contains(q, "WHERE"):
		return classScan
	case strings.HasPrefix(q, "SELECT s.tenant, s.stream, s.epoch, s.last_seq FROM unnest("):
		return classLook
	case strings.Contains(q, "telltale.publish_batch(") || strings.Contains(q, "telltale.publish("):
		return classPublish
	case strings.HasPrefix(strings.ToUpper(q), "LISTEN "):
		return classListen
	}
	return classOther
}

// stmtKey is one statement of one role.
type stmtKey struct {
	role    string
	queryID int64
}

type stmtStat struct {
	class       string
	calls, rows int64
}

// counts is calls and rows of one class.
type counts struct{ Calls, Rows int64 }

// backend is one PostgreSQL backend of the run's database.
type backend struct {
	role, app string
	ticks     int64
}

// pgSnap is what PostgreSQL had counted at one moment.
type pgSnap struct {
	at       time.Time
	stmts    map[stmtKey]stmtStat // nil without pg_stat_statements
	execMs   map[stmtKey]float64  // pg_stat_statements' total_exec_time
	xacts    int64                // xact_commit + xact_rollback of the database
	returned int64                // tup_returned
	fetched  int64                // tup_fetched
	backends map[int]backend      // by pid
	ticks    map[int]int64        // the cluster's processes (own) or every postgres process, by pid
}

// snapshot reads the counters through conn (a connection to the run's
// database as postgres).
func (c *cluster) snapshot(ctx context.Context, conn *pgx.Conn, db string) (pgSnap, error) {
	s := pgSnap{at: time.Now(), backends: map[int]backend{}}
	if c.statements {
		s.stmts, s.execMs = map[stmtKey]stmtStat{}, map[stmtKey]float64{}
		rows, err := conn.Query(ctx, `SELECT r.rolname, coalesce(s.queryid, 0), s.query, s.calls, s.rows, s.total_exec_time FROM pg_stat_statements s
			JOIN pg_roles r ON r.oid = s.userid WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = $1)`, db)
		if err != nil {
			return s, fmt.Errorf("pg_stat_statements: %w", err)
		}
		for rows.Next() {
			var k stmtKey
			var q string
			var st stmtStat
			var ms float64
			if err := rows.Scan(&k.role, &k.queryID, &q, &st.calls, &st.rows, &ms); err != nil {
				rows.Close()
				return s, err
			}
			st.class = classify(q)
			s.stmts[k] = st
			s.execMs[k] = ms
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return s, err
		}
	}
	// pg_stat_database is updated by backends at most every 500 ms (and
	// at transaction end when idle): read it from a fresh snapshot.
	if _, err := conn.Exec(ctx, "SELECT pg_stat_clear_snapshot()"); err != nil {
		return s, err
	}
	if err := conn.QueryRow(ctx, `SELECT xact_commit + xact_rollback, tup_returned, tup_fetched FROM pg_stat_database WHERE datname = $1`, db).
		Scan(&s.xacts, &s.returned, &s.fetched); err != nil {
		return s, fmt.Errorf("pg_stat_database: %w", err)
	}
	rows, err := conn.Query(ctx, `SELECT pid, coalesce(usename, ''), coalesce(application_name, '') FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, db)
	if err != nil {
		return s, err
	}
	for rows.Next() {
		var pid int
		var b backend
		if err := rows.Scan(&pid, &b.role, &b.app); err != nil {
			rows.Close()
			return s, err
		}
		b.ticks = proc.CPUTicks(pid)
		s.backends[pid] = b
	}
	rows.Close()
	s.ticks = clusterTicks(c)
	return s, rows.Err()
}

// classDelta is each role's calls and rows per class between two snapshots.
func classDelta(a, b pgSnap) map[string]map[string]counts {
	out := map[string]map[string]counts{}
	for k, st := range b.stmts {
		prev := a.stmts[k] // a statement first seen in b counts from zero
		d := counts{st.calls - prev.calls, st.rows - prev.rows}
		if d.Calls == 0 && d.Rows == 0 {
			continue
		}
		m := out[k.role]
		if m == nil {
			m = map[string]counts{}
			out[k.role] = m
		}
		c := m[st.class]
		c.Calls += d.Calls
		c.Rows += d.Rows
		m[st.class] = c
	}
	return out
}

// classExec is each role's execution time (ms, pg_stat_statements'
// total_exec_time) per class between two snapshots.
func classExec(a, b pgSnap) map[string]map[string]float64 {
	out := map[string]map[string]float64{}
	for k, ms := range b.execMs {
		d := ms - a.execMs[k]
		if d <= 0 {
			continue
		}
		m := out[k.role]
		if m == nil {
			m = map[string]float64{}
			out[k.role] = m
		}
		m[b.stmts[k].class] += d
	}
	return out
}

// backendTicks is each role's backends' CPU ticks between two snapshots: a
// backend in both counts its difference, one only in b (connected since)
// all of its time; one gone by b is lost (its last interval uncounted).
func backendTicks(a, b pgSnap) map[string]int64 {
	out := map[string]int64{}
	for pid, bb := range b.backends {
		t := bb.ticks
		if ab, ok := a.backends[pid]; ok && ab.role == bb.role {
			t -= ab.ticks
		}
		out[bb.role] += max(0, t)
	}
	return out
}

// connections is how many backends role holds in s, and how many of them
// are LISTEN connections (application_name telltale-listen).
func connections(s pgSnap, role string) (all, listen int) {
	for _, b := range s.backends {
		if b.role != role {
			continue
		}
		all++
		if b.app == "telltale-listen" {
			listen++
		}
	}
	return all, listen
}

// treeTicks is the CPU ticks of pid and of every process whose parent it
// is (a postmaster and its backends and workers), by pid.
func treeTicks(pid int) map[int]int64 {
	out := map[int]int64{pid: proc.CPUTicks(pid)}
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		p, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if ppid(p) == pid {
			out[p] = proc.CPUTicks(p)
		}
	}
	return out
}

// ticksDelta is the CPU the processes of b spent since a: a process in
// both counts its difference, one new in b all of its time; one gone by b
// (an autovacuum worker, a closed backend) is lost rather than subtracted.
func ticksDelta(a, b map[int]int64) int64 {
	var sum int64
	for pid, t := range b {
		if prev, ok := a[pid]; ok && prev <= t {
			t -= prev
		}
		sum += t
	}
	return sum
}

// ppid is pid's parent, 0 when it cannot be read.
func ppid(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.Atoi(f[1])
	return n
}

// commTicks is the CPU ticks of every process named comm, by pid.
func commTicks(comm string) map[int]int64 {
	dirs, _ := os.ReadDir("/proc")
	out := map[int]int64{}
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		if c, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil && strings.TrimSpace(string(c)) == comm {
			out[pid] = proc.CPUTicks(pid)
		}
	}
	return out
}

// machineTicks is every CPU's busy time (all but idle and iowait).
func machineTicks() int64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	var sum int64
	for i, f := range strings.Fields(line)[1:] {
		n, _ := strconv.ParseInt(f, 10, 64)
		if i != 3 && i != 4 {
			sum += n
		}
	}
	return sum
}

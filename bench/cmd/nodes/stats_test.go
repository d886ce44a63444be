package main

import (
	"math"
	"testing"
)

// The follower's read as backend/pgstore/follow.go (readBounded) sends it,
// and its scan: the benchmark counts reads per node by this text.
const (
	followRead = `SELECT seq, ts, body, created, stored, before + size >= $6 FROM (
			SELECT seq, ts, body, created, stored, pg_column_size(body) AS size,
				coalesce(sum(pg_column_size(body)) OVER (ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
			FROM telltale.events WHERE tenant = $1 AND stream = $2 AND seq > $3 AND seq <= $4
				AND EXISTS (SELECT FROM telltale.streams WHERE tenant = $1 AND stream = $2 AND epoch = $7)
			ORDER BY seq LIMIT $5) e
		WHERE before < $6 ORDER BY seq`
	followScan = `SELECT tenant, stream, epoch, last_seq FROM telltale.streams`
	followLook = `SELECT s.tenant, s.stream, s.epoch, s.last_seq
		FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) AS c(tenant, stream, epoch, seq)
		JOIN telltale.streams s ON s.tenant = c.tenant AND s.stream = c.stream
		WHERE s.epoch <> c.epoch OR s.last_seq > c.seq`
)

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		name, query, want string
	}{
		{"follower read", followRead, classRead},
		{"scan", followScan, classScan},
		{"lingering look", followLook, classLook},
		{"one stream's row is not a scan", `SELECT tenant, stream, epoch, last_seq FROM telltale.streams WHERE tenant = $1`, classOther},
		{"publish_batch", `SELECT last_seq FROM telltale.publish_batch($1, $2, $3::jsonb[])`, classPublish},
		{"publish", `SELECT telltale.publish($1, $2, $3)`, classPublish},
		{"listen", `LISTEN telltale`, classListen},
		{"revocations", `SELECT jti, sub, tenant FROM telltale.revocations WHERE until > now()`, classOther},
		{"a read by time is not the follower's", `SELECT seq, ts, body FROM telltale.events WHERE tenant = $1 AND stream = $2 AND ts >= $3`, classOther},
	} {
		if got := classify(c.query); got != c.want {
			t.Errorf("%s: classify = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestClassDelta(t *testing.T) {
	a := pgSnap{stmts: map[stmtKey]stmtStat{
		{"n1", 1}: {classRead, 100, 1000},
		{"n1", 2}: {classScan, 10, 80},
		{"n2", 1}: {classRead, 50, 500},
	}}
	b := pgSnap{stmts: map[stmtKey]stmtStat{
		{"n1", 1}: {classRead, 160, 4000},
		{"n1", 2}: {classScan, 20, 160},
		{"n1", 3}: {classRead, 5, 20}, // first seen in b: counts from zero
		{"n2", 1}: {classRead, 50, 500},
	}}
	got := classDelta(a, b)
	if c := got["n1"][classRead]; c != (counts{65, 3020}) {
		t.Errorf("n1 reads = %+v, want {65 3020}", c)
	}
	if c := got["n1"][classScan]; c != (counts{10, 80}) {
		t.Errorf("n1 scans = %+v, want {10 80}", c)
	}
	if _, ok := got["n2"]; ok {
		t.Errorf("n2 did nothing, got %+v", got["n2"])
	}
}

func TestBackendTicks(t *testing.T) {
	a := pgSnap{backends: map[int]backend{
		10: {role: "n1", ticks: 100},
		11: {role: "n1", ticks: 50},
		12: {role: "n2", ticks: 70},
		13: {role: "n2", ticks: 30}, // gone by b: its last interval is lost
	}}
	b := pgSnap{backends: map[int]backend{
		10: {role: "n1", ticks: 130},
		11: {role: "n2", ticks: 5}, // the pid reused by another role: all of it
		12: {role: "n2", ticks: 90},
		14: {role: "n1", ticks: 7, app: "telltale-listen"}, // connected since
	}}
	got := backendTicks(a, b)
	if got["n1"] != 37 || got["n2"] != 25 {
		t.Errorf("ticks = %v, want n1 37, n2 25", got)
	}
	if all, listen := connections(b, "n1"); all != 2 || listen != 1 {
		t.Errorf("n1 connections = %d (%d LISTEN), want 2 (1)", all, listen)
	}
}

// TestPGFigures: three nodes each read every one of 2,000 events published
// over 2 s: the amplification is 3, and each node's figures are per second.
func TestPGFigures(t *testing.T) {
	roles := []string{"n1", "n2", "n3"}
	a := pgSnap{stmts: map[stmtKey]stmtStat{}, backends: map[int]backend{}, xacts: 1000, returned: 5, ticks: map[int]int64{1: 100, 2: 500}}
	b := pgSnap{stmts: map[stmtKey]stmtStat{}, backends: map[int]backend{}, xacts: 1600, returned: 6005, ticks: map[int]int64{1: 250, 3: 50}}
	for i, r := range roles {
		b.stmts[stmtKey{r, 1}] = stmtStat{classRead, 400, 2000}
		b.stmts[stmtKey{r, 2}] = stmtStat{classScan, 2, 10}
		b.stmts[stmtKey{r, 3}] = stmtStat{classOther, 4, 4}
		b.backends[100+i] = backend{role: r, ticks: 20}
		b.backends[200+i] = backend{role: r, app: "telltale-listen"}
	}
	b.stmts[stmtKey{"pub", 9}] = stmtStat{classPublish, 200, 200}
	tot, nodes, pub, amp := pgFigures(a, b, roles, "pub", 2, 2000)
	if amp != 3 {
		t.Errorf("amplification = %v, want 3", amp)
	}
	if pub != 100 {
		t.Errorf("publisher = %v calls/s, want 100", pub)
	}
	if tot.QueriesPerS != 3*203+100 || tot.RowsReadPerS != 3000 || tot.XactsPerS != 300 || tot.TupReturnedPS != 3000 || tot.CPU != 100 {
		t.Errorf("totals = %+v, want 709 queries/s, 3000 rows/s, 300 xacts/s, 3000 returned/s, CPU 100%%", tot)
	}
	n := nodes[1]
	if n.Node != 2 || n.QueriesPerS != 203 || n.ReadsPerS != 200 || n.RowsPerS != 1000 || n.ScansPerS != 1 || n.OtherPerS != 2 {
		t.Errorf("node 2 = %+v, want 203 queries/s: 200 reads (1000 rows), 1 scan, 2 other", n)
	}
	if n.BackendCPU != 10 || math.Abs(n.BackendUsPerRow-100) > 1e-9 || n.Conns != 2 || n.ListenConns != 1 {
		t.Errorf("node 2 = %+v, want backends 10%% CPU, 100 µs/row, 2 connections, 1 LISTEN", n)
	}
}

// TestPGFiguresLooks: the follower's lingering looks are counted apart
// from its reads and from other queries.
func TestPGFiguresLooks(t *testing.T) {
	a := pgSnap{stmts: map[stmtKey]stmtStat{}, backends: map[int]backend{}, ticks: map[int]int64{}}
	b := pgSnap{stmts: map[stmtKey]stmtStat{
		{"n1", 1}: {classRead, 100, 500},
		{"n1", 2}: {classLook, 40, 10},
		{"n1", 3}: {classOther, 6, 6},
	}, backends: map[int]backend{}, ticks: map[int]int64{}}
	_, nodes, _, _ := pgFigures(a, b, []string{"n1"}, "pub", 2, 500)
	if n := nodes[0]; n.QueriesPerS != 73 || n.ReadsPerS != 50 || n.LooksPerS != 20 || n.OtherPerS != 3 || n.RowsPerS != 250 {
		t.Errorf("node 1 = %+v, want 73 queries/s: 50 reads (250 rows), 20 looks, 3 other", n)
	}
}

// TestClassExec: execution time per role and class between two snapshots;
// a statement first seen in b counts from zero.
func TestClassExec(t *testing.T) {
	a := pgSnap{stmts: map[stmtKey]stmtStat{{"n1", 1}: {classRead, 10, 10}}, execMs: map[stmtKey]float64{{"n1", 1}: 5}}
	b := pgSnap{stmts: map[stmtKey]stmtStat{
		{"n1", 1}: {classRead, 20, 20},
		{"n1", 2}: {classLook, 4, 1},
	}, execMs: map[stmtKey]float64{{"n1", 1}: 8, {"n1", 2}: 0.5}}
	got := classExec(a, b)
	if r, l := got["n1"][classRead], got["n1"][classLook]; math.Abs(r-3) > 1e-9 || math.Abs(l-0.5) > 1e-9 {
		t.Errorf("n1 exec = read %v ms, look %v ms, want 3 and 0.5", r, l)
	}
}

// TestTicksDelta: a process that ended between the snapshots (pid 2 in
// TestPGFigures, an autovacuum worker) is not subtracted.
func TestTicksDelta(t *testing.T) {
	if got := ticksDelta(map[int]int64{1: 100, 2: 500}, map[int]int64{1: 250, 3: 50}); got != 200 {
		t.Errorf("ticksDelta = %d, want 150 + 50", got)
	}
	if got := ticksDelta(map[int]int64{1: 100}, map[int]int64{1: 30}); got != 30 {
		t.Errorf("a pid reused: ticksDelta = %d, want 30", got)
	}
}

// TestRouterNext: a killed node's clients spread over the other nodes,
// each trying every other node once and never the one that failed.
func TestRouterNext(t *testing.T) {
	const n = 3
	spread := map[int]int{}
	for i := range 30 {
		seen := map[int]bool{}
		for try := range n - 1 {
			got := next(0, i, try, n)
			if got == 0 || seen[got] {
				t.Fatalf("client %d try %d: node %d (tried %v)", i, try, got, seen)
			}
			seen[got] = true
		}
		spread[next(0, i, 0, n)]++
	}
	if spread[1] != 15 || spread[2] != 15 {
		t.Errorf("first choices after node 0 = %v, want 15 and 15", spread)
	}
	if got := next(0, 7, 0, 1); got != 0 {
		t.Errorf("one node: next = %d, want 0", got)
	}
}

func TestClientOf(t *testing.T) {
	if i, err := clientOf("c1234.nodes:80"); err != nil || i != 1234 {
		t.Errorf("clientOf = %d, %v; want 1234", i, err)
	}
	if _, err := clientOf("127.0.0.1:5432"); err == nil {
		t.Error("clientOf(127.0.0.1:5432): no error")
	}
}

func TestParseCountsAndMedians(t *testing.T) {
	if got, err := parseCounts("1, 3"); err != nil || len(got) != 2 || got[0] != 1 || got[1] != 3 {
		t.Errorf("parseCounts = %v, %v", got, err)
	}
	if got, err := parseCounts("none"); err != nil || len(got) != 0 {
		t.Errorf("parseCounts(none) = %v, %v; want no runs", got, err)
	}
	for _, bad := range []string{"", "0", "1,x", "-2"} {
		if _, err := parseCounts(bad); err == nil {
			t.Errorf("parseCounts(%q): no error", bad)
		}
	}
	off, on := notifyMedians([]notifyCost{{TPS: 100}, {Notify: true, TPS: 40}, {TPS: 120}, {Notify: true, TPS: 60}, {TPS: 90}})
	if off != 100 || on != 50 {
		t.Errorf("medians = %v, %v; want 100, 50", off, on)
	}
}

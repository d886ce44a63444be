package main

import (
	"context"
	"os"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/telltale/telltale/bench/latency"
	"github.com/telltale/telltale/bench/proc"
)

// meter reads what a phase cost.
type meter struct {
	c       *cluster
	obs     *pgx.Conn // the run's database as postgres
	db      string
	nodes   []*node
	roles   []string // the nodes' roles, by index
	pubRole string
	pub     *publisher
	rt      *router
	fl      *fleet
}

// nodeSnap is one node's own counters at one moment.
type nodeSnap struct {
	ticks                 int64
	wakes, read, uncached float64
}

type snap struct {
	pg        pgSnap
	nodes     []nodeSnap
	machine   int64
	generator int64
	published int64
	at        time.Time
}

func (m *meter) snap(ctx context.Context) (snap, error) {
	s := snap{machine: machineTicks(), generator: proc.CPUTicks(os.Getpid()), published: m.pub.events.Load()}
	for _, n := range m.nodes {
		s.nodes = append(s.nodes, nodeSnap{
			ticks:    proc.CPUTicks(n.cmd.Process.Pid),
			wakes:    n.metric("telltale_pg_notifications_total"),
			read:     n.metric("telltale_pg_events_read_total"),
			uncached: n.metric("telltale_pg_follow_uncached_total"),
		})
	}
	var err error
	s.pg, err = m.c.snapshot(ctx, m.obs, m.db)
	s.at = time.Now()
	return s, err
}

// phase measures d of whatever is going on.
func (m *meter) phase(ctx context.Context, name string, d time.Duration) (phaseResult, error) {
	m.fl.takeLatencies(len(m.nodes)) // what came before the phase
	a, err := m.snap(ctx)
	if err != nil {
		return phaseResult{}, err
	}
	time.Sleep(d) // the phase: a duration to measure over
	b, err := m.snap(ctx)
	if err != nil {
		return phaseResult{}, err
	}
	all, byNode := m.fl.takeLatencies(len(m.nodes))
	secs := b.at.Sub(a.at).Seconds()
	p := phaseResult{Phase: name, Seconds: secs}
	p.PublishedPerS = float64(b.published-a.published) / secs
	l := latency.Summarize(all)
	p.DeliveriesN, p.P50ms, p.P95ms, p.P99ms, p.MaxMs = len(all), l.P50, l.P95, l.P99, l.Max
	var perNode []nodeResult
	p.pgTotals, perNode, p.PublisherPerS, p.ReadAmplification = pgFigures(a.pg, b.pg, m.roles, m.pubRole, secs, b.published-a.published)
	pct := func(ticks int64) float64 { return float64(ticks) / ticksPerSecond / secs * 100 }
	p.MachineCPU, p.GeneratorCPU = pct(b.machine-a.machine), pct(b.generator-a.generator)
	clients := m.rt.perNode()
	for i, n := range m.nodes {
		nr := &perNode[i]
		nr.Clients = clients[i]
		ls := latency.Summarize(byNode[i])
		nr.P50ms, nr.P99ms = ls.P50, ls.P99
		nr.ServerCPU = pct(b.nodes[i].ticks - a.nodes[i].ticks)
		nr.RSSMB = float64(proc.RSSKB(n.cmd.Process.Pid)) / 1024
		nr.WakesPerS = (b.nodes[i].wakes - a.nodes[i].wakes) / secs
		if w := b.nodes[i].wakes - a.nodes[i].wakes; w > 0 {
			nr.ReadsPerWake = nr.ReadsPerS * secs / w
			nr.QueriesPerWake = (nr.ReadsPerS + nr.LooksPerS) * secs / w
		}
		nr.EventsReadPerS = (b.nodes[i].read - a.nodes[i].read) / secs
		nr.UncachedPerS = (b.nodes[i].uncached - a.nodes[i].uncached) / secs
		p.ServerCPU += nr.ServerCPU
	}
	p.PerNode = perNode
	return p, nil
}

// pgFigures is PostgreSQL's side of a phase from two snapshots: totals,
// each node's figures (by roles' order; the fields PostgreSQL gives), the
// publisher's calls per second and the read amplification (rows the nodes'
// follower reads returned / events published).
func pgFigures(a, b pgSnap, roles []string, pubRole string, secs float64, published int64) (t pgTotals, nodes []nodeResult, pubPerS, amplification float64) {
	perS := func(n int64) float64 { return float64(n) / secs }
	classes := classDelta(a, b)
	exec := classExec(a, b)
	ticks := backendTicks(a, b)
	var rows int64
	for i, role := range roles {
		nr := nodeResult{Node: i + 1}
		var all int64
		for _, c := range classes[role] {
			all += c.Calls
		}
		cl := classes[role]
		nr.QueriesPerS = perS(all)
		nr.ReadsPerS, nr.RowsPerS = perS(cl[classRead].Calls), perS(cl[classRead].Rows)
		nr.ScansPerS = perS(cl[classScan].Calls)
		nr.LooksPerS = perS(cl[classLook].Calls)
		if n := cl[classRead].Calls; n > 0 {
			nr.ReadExecUs = exec[role][classRead] * 1000 / float64(n)
		}
		if n := cl[classLook].Calls; n > 0 {
			nr.LookExecUs = exec[role][classLook] * 1000 / float64(n)
		}
		nr.OtherPerS = perS(all - cl[classRead].Calls - cl[classScan].Calls - cl[classLook].Calls)
		nr.BackendCPU = float64(ticks[role]) / ticksPerSecond / secs * 100
		if r := cl[classRead].Rows; r > 0 {
			nr.BackendUsPerRow = float64(ticks[role]) / ticksPerSecond * 1e6 / float64(r)
		}
		nr.Conns, nr.ListenConns = connections(b, role)
		rows += cl[classRead].Rows
		t.QueriesPerS += nr.QueriesPerS
		nodes = append(nodes, nr)
	}
	var pubCalls int64
	for _, c := range classes[pubRole] {
		pubCalls += c.Calls
	}
	pubPerS = perS(pubCalls)
	t.QueriesPerS += pubPerS
	t.XactsPerS = perS(b.xacts - a.xacts)
	t.RowsReadPerS = perS(rows)
	t.TupReturnedPS = perS(b.returned - a.returned)
	t.CPU = float64(ticksDelta(a.ticks, b.ticks)) / ticksPerSecond / secs * 100
	if published > 0 {
		amplification = float64(rows) / float64(published)
	}
	return t, nodes, pubPerS, amplification
}

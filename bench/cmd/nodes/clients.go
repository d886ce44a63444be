package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/telltale/telltale/app/client"
	"github.com/telltale/telltale/shared/livestate"
	"github.com/telltale/telltale/shared/wire"
)

// router connects each client straight to a node, without a load balancer:
// client i dials node i mod N first and, when a dial fails (a killed node
// refuses), the next live one, and stays there. The client runtime dials
// ws://c<i>.nodes/…; coder/websocket dials through http.DefaultClient,
// whose transport's DialContext is route.
type router struct {
	nodes []*node
	cur   []atomic.Int32 // each client's node now
}

func newRouter(nodes []*node, clients int) *router {
	r := &router{nodes: nodes, cur: make([]atomic.Int32, clients)}
	for i := range r.cur {
		r.cur[i].Store(int32(i % len(nodes)))
	}
	return r
}

// install makes http.DefaultClient (the one coder/websocket dials with)
// route through r.
func (r *router) install() {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	http.DefaultClient = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			return r.route(ctx, d, network, addr)
		},
		MaxIdleConnsPerHost: -1,
	}}
}

// clientOf reads the client index from a host c<i>.nodes:port.
func clientOf(addr string) (int, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	name, ok := strings.CutSuffix(host, ".nodes")
	if !ok || !strings.HasPrefix(name, "c") {
		return 0, fmt.Errorf("not a client's node address: %s", addr)
	}
	return strconv.Atoi(name[1:])
}

// next is the node client i tries after node cur failed, attempt t (0, 1,
// …): the others in turn, starting at a place that depends on i, so that a
// killed node's clients spread over the survivors.
func next(cur, i, t, n int) int {
	if n == 1 {
		return 0
	}
	return (cur + 1 + (i+t)%(n-1)) % n
}

func (r *router) route(ctx context.Context, d *net.Dialer, network, addr string) (net.Conn, error) {
	i, err := clientOf(addr)
	if err != nil {
		return d.DialContext(ctx, network, addr)
	}
	n := len(r.nodes)
	cur := int(r.cur[i].Load())
	var errs []error
	for t := 0; t < n; t++ {
		try := cur
		if t > 0 {
			try = next(cur, i, t-1, n)
		}
		if r.nodes[try].dead.Load() && n > 1 {
			continue
		}
		c, err := d.DialContext(ctx, network, r.nodes[try].Addr())
		if err == nil {
			r.cur[i].Store(int32(try))
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// tally is one client's record; OnEvent and Trace run under the client's
// lock.
type tally struct {
	stream    string
	lat       []time.Duration
	latNode   []int8 // the node each latency was measured through
	last      uint64
	applied   int64
	skipped   int64 // seqs jumped over by a snapshot
	snapshots int
	breaks    int64
	// resumed is when the client first applied an event published after
	// killAt (set by the kill phase); zero until then.
	killAt  atomic.Int64 // unix µs; 0: no kill yet
	resumed time.Time
	measure atomic.Bool // latencies are kept only while true
}

// fleet is the run's clients.
type fleet struct {
	cs      []*client.Client
	tallies []*tally
	wg      sync.WaitGroup
	cancel  context.CancelFunc
}

// startClients connects n clients, client i following streams[i mod len],
// through r.
func startClients(r *router, n int, streams []string, token string) *fleet {
	ctx, cancel := context.WithCancel(context.Background())
	f := &fleet{cancel: cancel, cs: make([]*client.Client, n), tallies: make([]*tally, n)}
	for i := range n {
		tl := &tally{stream: streams[i%len(streams)]}
		f.tallies[i] = tl
		f.cs[i] = client.New(client.Config{
			URL:     fmt.Sprintf("ws://c%d.nodes/api/v1/ws", i),
			Token:   token,
			Streams: []string{tl.stream},
			Limits:  livestate.Limits{Rows: 1, Points: 1},
			Trace: func(_ string, _, seq uint64, snapshot bool) {
				if snapshot {
					tl.snapshots++
					if seq > tl.last {
						tl.skipped += int64(seq - tl.last)
					}
				} else if seq != tl.last+1 {
					tl.breaks++
				}
				tl.last = seq
			},
			OnEvent: func(ev *wire.Event) {
				tl.applied++
				us, ok := ev.Values["pub_us"]
				if !ok {
					return
				}
				if k := tl.killAt.Load(); k != 0 && tl.resumed.IsZero() && int64(us) >= k {
					tl.resumed = time.Now()
				}
				if tl.measure.Load() {
					tl.lat = append(tl.lat, time.Since(time.UnixMicro(int64(us))))
					tl.latNode = append(tl.latNode, int8(r.cur[i].Load()))
				}
			},
		})
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			_ = f.cs[i].Run(ctx)
		}()
	}
	return f
}

func (f *fleet) stop() {
	f.cancel()
	f.wg.Wait()
}

// live is how many clients are live now.
func (f *fleet) live() int {
	n := 0
	for _, c := range f.cs {
		c.Read(func(_ map[string]*livestate.Stream, i client.Info) {
			if i.Status == client.Live {
				n++
			}
		})
	}
	return n
}

func (f *fleet) waitLive(d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		n := f.live()
		if n == len(f.cs) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d clients live after %v", n, len(f.cs), d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// holds says whether every client holds its stream up to want[stream].
func (f *fleet) holds(want map[string]uint64) bool {
	for _, c := range f.cs {
		ok := true
		c.Read(func(st map[string]*livestate.Stream, _ client.Info) {
			for name, s := range st {
				if s.Seq < want[name] {
					ok = false
				}
			}
		})
		if !ok {
			return false
		}
	}
	return true
}

// extraSnapshots is the snapshots the clients took beyond their first.
func (f *fleet) extraSnapshots() int64 {
	var n int64
	for i, c := range f.cs {
		tl := f.tallies[i]
		c.Read(func(map[string]*livestate.Stream, client.Info) { n += int64(max(0, tl.snapshots-1)) })
	}
	return n
}

// measure turns latency keeping on or off for every client.
func (f *fleet) measure(on bool) {
	for _, tl := range f.tallies {
		tl.measure.Store(on)
	}
}

// takeLatencies returns every latency kept so far, per node, and forgets
// them.
func (f *fleet) takeLatencies(nodes int) (all []time.Duration, byNode [][]time.Duration) {
	byNode = make([][]time.Duration, nodes)
	for i, c := range f.cs {
		tl := f.tallies[i]
		c.Read(func(map[string]*livestate.Stream, client.Info) {
			all = append(all, tl.lat...)
			for j, l := range tl.lat {
				byNode[tl.latNode[j]] = append(byNode[tl.latNode[j]], l)
			}
			tl.lat, tl.latNode = tl.lat[:0], tl.latNode[:0]
		})
	}
	return all, byNode
}

// perNode is how many clients each node holds now.
func (r *router) perNode() []int {
	out := make([]int, len(r.nodes))
	for i := range r.cur {
		out[r.cur[i].Load()]++
	}
	return out
}

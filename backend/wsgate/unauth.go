package wsgate

import (
	"sync"

	"github.com/telltale/telltale/backend/metrics"
)

// unauthBudget bounds the sockets that have not authenticated yet: upgraded
// (or being upgraded), with no verified hello. They have a budget of their
// own, apart from MaxConns, which counts authenticated connections only, so
// that sockets anyone can open without a token never crowd out operators:
//
//   - an address holds at most perAddr of them; past it the upgrade is
//     refused (503);
//   - all addresses together hold at most total; when that is full, a
//     newcomer takes the place of the oldest socket of the address holding
//     the most, provided that address holds at least two more than the
//     newcomer's (otherwise the newcomer is refused). Filling the total
//     budget from a few addresses therefore locks no one out: a new client
//     address finds a place unless total addresses each hold one already.
//
// A socket leaves the budget when its hello is verified (it then counts
// against MaxConns), when it ends, or when it is evicted.
type unauthBudget struct {
	total, perAddr int
	gauge          *metrics.Value // nil in unit tests

	mu    sync.Mutex
	addrs map[string][]*pending // per client address, oldest first
	n     int
}

// pending is one socket's place in the budget.
type pending struct {
	addr string
	c    *conn // nil until the upgrade is done; under the budget's mu
	gone bool  // left the budget; under the budget's mu
}

func newUnauthBudget(total, perAddr int) *unauthBudget {
	return &unauthBudget{total: total, perAddr: perAddr, addrs: make(map[string][]*pending)}
}

// admit gives a new socket from addr a place, or reports that there is none
// (ok false). victim, if not nil, is the socket evicted for it: the caller
// closes it (evict), outside the budget's lock.
func (b *unauthBudget) admit(addr string) (p *pending, victim *pending, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	mine := len(b.addrs[addr])
	if mine >= b.perAddr {
		return nil, nil, false
	}
	if b.n >= b.total {
		heavy, most := "", 0
		for a, ps := range b.addrs { // at most total addresses, and only when full
			if len(ps) > most {
				heavy, most = a, len(ps)
			}
		}
		if most < mine+2 {
			return nil, nil, false
		}
		victim = b.addrs[heavy][0]
		b.remove(victim)
	}
	p = &pending{addr: addr}
	b.addrs[addr] = append(b.addrs[addr], p)
	b.n++
	b.count(1)
	return p, victim, true
}

// attach records the connection that holds p, once upgraded; false means
// p was evicted meanwhile, and the connection must not start.
func (b *unauthBudget) attach(p *pending, c *conn) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	p.c = c
	return !p.gone
}

// leave takes p out of the budget; false means it was out already
// (evicted, or left before).
func (b *unauthBudget) leave(p *pending) bool {
	if p == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if p.gone {
		return false
	}
	b.remove(p)
	return true
}

// remove takes p out, under mu.
func (b *unauthBudget) remove(p *pending) {
	ps := b.addrs[p.addr]
	for i := range ps {
		if ps[i] == p {
			ps = append(ps[:i], ps[i+1:]...)
			break
		}
	}
	if len(ps) == 0 {
		delete(b.addrs, p.addr)
	} else {
		b.addrs[p.addr] = ps
	}
	p.gone = true
	b.n--
	b.count(-1)
}

func (b *unauthBudget) count(d int64) {
	if b.gauge != nil {
		b.gauge.Add(d)
	}
}

// holder is the connection of an evicted place, nil when it was still being
// upgraded (attach then tells its handler).
func (b *unauthBudget) holder(p *pending) *conn {
	b.mu.Lock()
	defer b.mu.Unlock()
	return p.c
}

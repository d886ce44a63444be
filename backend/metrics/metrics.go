// Package metrics keeps the backend's counters and gauges and serves them in
// the Prometheus text format. It is deliberately small: named atomic values,
// no labels beyond the name, no allocation on the hot path.
//
// It must never block the caller and never record tokens or event bodies.
package metrics

import (
	"fmt"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
)

// Registry holds named counters and gauges.
type Registry struct {
	mu     sync.Mutex
	values map[string]*Value
}

// Value is one counter or gauge.
type Value struct {
	name, help, kind string
	v                atomic.Int64
}

// Add adds d.
func (v *Value) Add(d int64) { v.v.Add(d) }

// Inc adds one.
func (v *Value) Inc() { v.v.Add(1) }

// Load returns the current value.
func (v *Value) Load() int64 { return v.v.Load() }

// New returns an empty registry.
func New() *Registry { return &Registry{values: make(map[string]*Value)} }

// Counter returns the counter called name, creating it once.
func (r *Registry) Counter(name, help string) *Value { return r.get(name, help, "counter") }

// Gauge returns the gauge called name, creating it once.
func (r *Registry) Gauge(name, help string) *Value { return r.get(name, help, "gauge") }

func (r *Registry) get(name, help, kind string) *Value {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v, ok := r.values[name]; ok {
		return v
	}
	v := &Value{name: name, help: help, kind: kind}
	r.values[name] = v
	return v
}

// ServeHTTP writes every value in the Prometheus text format.
func (r *Registry) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	r.mu.Lock()
	vals := make([]*Value, 0, len(r.values))
	for _, v := range r.values {
		vals = append(vals, v)
	}
	r.mu.Unlock()
	sort.Slice(vals, func(i, j int) bool { return vals[i].name < vals[j].name })
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	for _, v := range vals {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %d\n", v.name, v.help, v.name, v.kind, v.name, v.Load())
	}
}

// Package metrics keeps the backend's counters, gauges and latency
// histograms and serves them in the Prometheus text format, with Go runtime
// and process metrics (Handler). Counters and gauges are named atomic
// values, labels fixed in the name (Labeled); histograms are
// VictoriaMetrics/metrics' (histogram.go); no allocation on the hot path.
// Labels take only bounded values: a tenant label goes through TopTenants.
//
// It must never block the caller and never record tokens or event bodies.
package metrics

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	vm "github.com/VictoriaMetrics/metrics"
)

// Registry holds named counters and gauges.
type Registry struct {
	mu     sync.Mutex
	values map[string]*Value
	hists  map[string]*histFamily  // by family name
	counts map[string]*countFamily // by family name
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
func New() *Registry {
	return &Registry{values: make(map[string]*Value), hists: make(map[string]*histFamily), counts: make(map[string]*countFamily)}
}

// Lookup returns the counter or gauge called name, which must exist: it
// panics on a name nothing created (a misspelt one), where Counter and
// Gauge would create it. Tests read values with it.
func (r *Registry) Lookup(name string) *Value {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.values[name]
	if !ok {
		panic(fmt.Sprintf("metrics: no value named %q", name))
	}
	return v
}

// Counter returns the counter called name, creating it once.
func (r *Registry) Counter(name, help string) *Value { return r.get(name, help, "counter") }

// Gauge returns the gauge called name, creating it once.
func (r *Registry) Gauge(name, help string) *Value { return r.get(name, help, "gauge") }

// Labeled is the name of one labelled value of a family:
// family{label="value"}. Values of a family share its help and type, given
// by the first one created.
func Labeled(family, label, value string) string {
	return family + "{" + label + "=" + quote(value) + "}"
}

// quote writes a label value; callers give printable ASCII (tenant and
// stream names are), which Go's and Prometheus's quoting agree on.
func quote(v string) string { return strconv.Quote(v) }

// family is a value's name without its labels.
func family(name string) string {
	if i := strings.IndexByte(name, '{'); i >= 0 {
		return name[:i]
	}
	return name
}

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

// ServeHTTP writes every value and histogram in the Prometheus text format.
func (r *Registry) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	r.write(w)
}

// Handler serves r and the Go runtime and process metrics (go_*,
// process_*: memory, GC, goroutines, CPU seconds, threads, open files), as
// a Prometheus exporter does.
func Handler(r *Registry) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		r.write(w)
		vm.WriteProcessMetrics(w)
		vm.WriteFDMetrics(w)
	})
}

func (r *Registry) write(w io.Writer) {
	r.mu.Lock()
	vals := make([]*Value, 0, len(r.values))
	for _, v := range r.values {
		vals = append(vals, v)
	}
	r.mu.Unlock()
	// Sorted by name, a family's values follow one another ('{' sorts
	// after every character of a name), under one HELP and TYPE.
	sort.Slice(vals, func(i, j int) bool { return vals[i].name < vals[j].name })
	last := ""
	for _, v := range vals {
		if f := family(v.name); f != last {
			fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", f, v.help, f, v.kind)
			last = f
		}
		fmt.Fprintf(w, "%s %d\n", v.name, v.Load())
	}
	r.writeHistograms(w)
	r.writeCounts(w)
}

package metrics

import (
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
)

// CountHistogram is a latency histogram fed by counts rather than single
// observations: a page's report says n events took about this long (one
// bin of its histogram), and AddBuckets adds a report's bins at once,
// summed per bucket. Same buckets as Histogram (LatencyBuckets), written in
// the Prometheus text format.
// VictoriaMetrics' histograms take one observation per call: feeding them a
// report's counts would cost a call per event, which a page's report (up to
// sla.MaxEventsPerSec × its period per bin) must not.
type CountHistogram struct {
	name    string
	buckets []atomic.Uint64 // per bucket, not cumulative; the last is +Inf
	sum     atomic.Uint64   // float64 bits, seconds
}

// Bucket is the index of the bucket a latency of seconds falls in, for
// AddBuckets: 0 to len(LatencyBuckets), the last being +Inf.
func Bucket(seconds float64) int {
	return sort.SearchFloat64s(LatencyBuckets, max(seconds, 0))
}

// AddBuckets adds counts[i] latencies to bucket i (Bucket's index) and sum
// seconds to the sum: a caller that has many observations at hand (a
// report's bins) adds them up first, and pays one atomic add per bucket.
func (h *CountHistogram) AddBuckets(counts []uint64, sum float64) {
	if h == nil {
		return
	}
	for i, n := range counts[:min(len(counts), len(h.buckets))] {
		if n > 0 {
			h.buckets[i].Add(n)
		}
	}
	h.addSum(sum)
}

func (h *CountHistogram) addSum(add float64) {
	if add == 0 || math.IsNaN(add) {
		return
	}
	for {
		old := h.sum.Load()
		if h.sum.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+add)) {
			return
		}
	}
}

type countFamily struct {
	help    string
	members map[string]*CountHistogram
}

// CountHistogram returns the count histogram called name (a member of a
// family, written with LabeledN), creating it once.
func (r *Registry) CountHistogram(name, help string) *CountHistogram {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := family(name)
	cf := r.counts[f]
	if cf == nil {
		cf = &countFamily{help: help, members: map[string]*CountHistogram{}}
		r.counts[f] = cf
	}
	if h := cf.members[name]; h != nil {
		return h
	}
	h := &CountHistogram{name: name, buckets: make([]atomic.Uint64, len(LatencyBuckets)+1)}
	cf.members[name] = h
	return h
}

// DropCountHistogram removes the count histogram called name from what is
// exported.
func (r *Registry) DropCountHistogram(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cf := r.counts[family(name)]; cf != nil {
		delete(cf.members, name)
	}
}

// writeCounts writes every count histogram family, sorted by name.
func (r *Registry) writeCounts(w io.Writer) {
	type fam struct {
		name, help string
		members    []*CountHistogram
	}
	r.mu.Lock()
	fams := make([]fam, 0, len(r.counts))
	for name, cf := range r.counts {
		f := fam{name: name, help: cf.help}
		for _, h := range cf.members {
			f.members = append(f.members, h)
		}
		sort.Slice(f.members, func(i, j int) bool { return f.members[i].name < f.members[j].name })
		fams = append(fams, f)
	}
	r.mu.Unlock()
	sort.Slice(fams, func(i, j int) bool { return fams[i].name < fams[j].name })
	var b []byte
	for _, f := range fams {
		b = append(b[:0], "# HELP "+f.name+" "+f.help+"\n# TYPE "+f.name+" histogram\n"...)
		for _, h := range f.members {
			labels := ""
			if i := strings.IndexByte(h.name, '{'); i >= 0 {
				labels = strings.TrimSuffix(h.name[i+1:], "}") + ","
			}
			var cum uint64
			for i := range h.buckets {
				cum += h.buckets[i].Load()
				le := "+Inf"
				if i < len(LatencyBuckets) {
					le = strconv.FormatFloat(LatencyBuckets[i], 'g', -1, 64)
				}
				b = append(b, f.name+"_bucket{"+labels+`le="`+le+`"} `...)
				b = strconv.AppendUint(b, cum, 10)
				b = append(b, '\n')
			}
			b = append(b, f.name+"_sum"+h.name[len(f.name):]+" "...)
			b = strconv.AppendFloat(b, math.Float64frombits(h.sum.Load()), 'g', -1, 64)
			b = append(b, "\n"+f.name+"_count"+h.name[len(f.name):]+" "...)
			b = strconv.AppendUint(b, cum, 10)
			b = append(b, '\n')
		}
		w.Write(b)
	}
}

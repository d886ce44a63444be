package metrics

import (
	"sync"
	"sync/atomic"
)

// StageFamily is the family of the server's stage latency histograms, one
// member per stage and tenant label.
const StageFamily = "telltale_stage_seconds"

// The stages the server measures (issue 18), named by the stamps they lie
// between (wire.Event's): commit → hub is Created → Ingested (Created is
// the producer's stamp, or the row's write for SQL and watched tables);
// stored → hub is Stored → Ingested (the store's follower and the hub);
// hub → sent is Ingested → the batch frame's Sent (the connection's queue
// and writer). What follows the server, the pages measure and report
// (shared/sla's stages): PageFamily holds them, fed by backend/sla from
// each report (Stages.Page).
const (
	StageCommitHub = "commit_hub"
	StageStoredHub = "stored_hub"
	StageHubSent   = "hub_sent"
)

// PageFamily is the family of the stages the pages report, one member per
// stage of shared/sla (network is sent → received; apply and paint together
// are received → painted; total is event → paint) and tenant label.
const PageFamily = "telltale_page_stage_seconds"

// TenantStages are one tenant label's stage histograms. A nil field records
// nothing.
type TenantStages struct {
	CommitHub, StoredHub, HubSent *Histogram

	dropped atomic.Bool
}

// Dropped says the tenant left the top N: its histograms are no longer
// exported, and Stages.For gives the ones to use now.
func (ts *TenantStages) Dropped() bool { return ts.dropped.Load() }

// Stages hands out the stage histograms by tenant, labelled through
// TopTenants: the N busiest tenants by events have their own series, the
// rest share tenant="other". A nil *Stages hands out histograms that record
// nothing.
type Stages struct {
	r   *Registry
	top *TopTenants
	mu  sync.RWMutex
	by  map[string]*TenantStages // by label

	pages map[string]map[string]*CountHistogram // label → page stage → histogram
}

// NewStages registers the stage histograms in r with a tenant label for the
// topN busiest tenants (zero means 20).
func NewStages(r *Registry, topN int) *Stages {
	s := &Stages{r: r, by: map[string]*TenantStages{}}
	s.top = &TopTenants{N: topN, OnDrop: s.drop}
	s.get(OtherTenant) // the family is exported from the start
	return s
}

var none = &TenantStages{}

// For returns the histograms of tenant's label, counting events towards
// its rank.
func (s *Stages) For(tenant string, events int) *TenantStages {
	if s == nil {
		return none
	}
	return s.get(s.top.Label(tenant, events))
}

func (s *Stages) get(label string) *TenantStages {
	s.mu.RLock()
	ts := s.by[label]
	s.mu.RUnlock()
	if ts != nil {
		return ts
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ts = s.by[label]; ts == nil {
		h := func(stage, help string) *Histogram {
			return s.r.Histogram(LabeledN(StageFamily, "stage", stage, "tenant", label), help)
		}
		const help = "seconds an event spent between two stamps of its path in the server (stage: commit_hub, stored_hub, hub_sent), by tenant (the top N by events, the rest other)"
		ts = &TenantStages{
			CommitHub: h(StageCommitHub, help),
			StoredHub: h(StageStoredHub, help),
			HubSent:   h(StageHubSent, help),
		}
		s.by[label] = ts
	}
	return ts
}

// drop removes the series of a tenant that left the top N.
func (s *Stages) drop(tenant string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ts := s.by[tenant]; ts != nil {
		ts.dropped.Store(true)
	}
	delete(s.by, tenant)
	for _, stage := range []string{StageCommitHub, StageStoredHub, StageHubSent} {
		s.r.DropHistogram(LabeledN(StageFamily, "stage", stage, "tenant", tenant))
	}
	for stage := range s.pages[tenant] {
		s.r.DropCountHistogram(LabeledN(PageFamily, "stage", stage, "tenant", tenant))
	}
	delete(s.pages, tenant)
}

// Page returns the histogram of a stage the pages of tenant reported, under
// tenant's label (reports do not count towards a tenant's rank: events do).
// stage must be one of a bounded set (backend/sla passes shared/sla's
// stages only, after checking the report). A known label and stage cost a
// read lock and two map reads.
func (s *Stages) Page(tenant, stage string) *CountHistogram {
	if s == nil {
		return nil
	}
	label := s.top.Label(tenant, 0)
	s.mu.RLock()
	h := s.pages[label][stage]
	s.mu.RUnlock()
	if h != nil {
		return h
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pages == nil {
		s.pages = map[string]map[string]*CountHistogram{}
	}
	if s.pages[label] == nil {
		s.pages[label] = map[string]*CountHistogram{}
	}
	h = s.r.CountHistogram(LabeledN(PageFamily, "stage", stage, "tenant", label),
		"seconds an event spent in a stage of its path after the server, as the tenant's pages reported it (stage: network = sent → received, apply and paint = received → painted, total = event → paint), by tenant (the top N by events, the rest other)")
	s.pages[label][stage] = h
	return h
}

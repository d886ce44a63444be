package sla

import (
	"context"
	"sync"
	"time"
)

// MemoryStore keeps rollups in memory, for the embedded store: gone at a
// restart, as the embedded store's events are.
type MemoryStore struct {
	mu      sync.Mutex
	rollups map[key]*Rollup
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{rollups: map[key]*Rollup{}} }

// Save merges rs into the rollups of the same keys.
func (m *MemoryStore) Save(_ context.Context, rs []*Rollup) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, ru := range rs {
		k := key{ru.Tenant, ru.Dashboard, ru.Panel, ru.Minute.Unix(), ru.Hour}
		if o := m.rollups[k]; o != nil {
			o.merge(ru)
		} else {
			m.rollups[k] = ru.clone()
		}
	}
	return nil
}

// Load calls each with a copy of every matching rollup.
func (m *MemoryStore) Load(_ context.Context, tenant, dashboard string, from, to time.Time, each func(*Rollup)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, ru := range m.rollups {
		if k.tenant == tenant && (dashboard == "" || k.dashboard == dashboard) && overlaps(ru, from, to) {
			each(ru.clone())
		}
	}
	return nil
}

// Prune deletes the rollups of minutes before before.
func (m *MemoryStore) Prune(_ context.Context, before time.Time) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n int64
	for k, ru := range m.rollups {
		if ru.Minute.Before(before) {
			delete(m.rollups, k)
			n++
		}
	}
	return n, nil
}

// Compact merges the minute rollups before before into hours.
func (m *MemoryStore) Compact(_ context.Context, before time.Time) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var n int64
	for k, ru := range m.rollups {
		if k.hour || !ru.Minute.Before(before) {
			continue
		}
		hour := ru.Minute.Truncate(time.Hour)
		hk := key{k.tenant, k.dashboard, k.panel, hour.Unix(), true}
		h := m.rollups[hk]
		if h == nil {
			h = newRollup(k.tenant, k.dashboard, k.panel, hour)
			h.Hour = true
			m.rollups[hk] = h
		}
		h.merge(ru)
		delete(m.rollups, k)
		n++
	}
	return n, nil
}

package memstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"

	"github.com/telltale/telltale/backend/dashstore"
	"github.com/telltale/telltale/shared/dashboard"
	"github.com/telltale/telltale/shared/wire"
)

// version is one kept version of a dashboard: its spec as JSON, decoded
// afresh on every read so that no caller shares (and could change) what
// the store keeps.
type version struct {
	meta dashstore.Meta
	spec []byte
}

// dashboards is a Store's dashboards (dashstore.Store), per tenant and id:
// each one's kept versions, oldest first. Store.dashMu guards it.
type dashboards map[key][]version

var _ dashstore.Store = (*Store)(nil)

// List implements dashstore.Store.
func (s *Store) List(_ context.Context, tenant string) ([]dashstore.Meta, error) {
	s.dashMu.Lock()
	defer s.dashMu.Unlock()
	out := []dashstore.Meta{}
	for k, vs := range s.dash {
		if k.tenant == tenant {
			out = append(out, vs[len(vs)-1].meta)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// Get implements dashstore.Store.
func (s *Store) Get(_ context.Context, tenant, id string) (dashstore.Stored, error) {
	s.dashMu.Lock()
	defer s.dashMu.Unlock()
	vs := s.dash[key{tenant, id}]
	if len(vs) == 0 {
		return dashstore.Stored{}, fmt.Errorf("dashboard %.64q: %w", id, dashstore.ErrNotFound)
	}
	return vs[len(vs)-1].stored()
}

// Version implements dashstore.Store.
func (s *Store) Version(_ context.Context, tenant, id string, n int) (dashstore.Stored, error) {
	s.dashMu.Lock()
	defer s.dashMu.Unlock()
	for _, v := range s.dash[key{tenant, id}] {
		if v.meta.Version == n {
			return v.stored()
		}
	}
	return dashstore.Stored{}, fmt.Errorf("dashboard %.64q version %d: %w", id, n, dashstore.ErrNotFound)
}

// Versions implements dashstore.Store.
func (s *Store) Versions(_ context.Context, tenant, id string) ([]dashstore.Meta, error) {
	s.dashMu.Lock()
	defer s.dashMu.Unlock()
	vs := s.dash[key{tenant, id}]
	if len(vs) == 0 {
		return nil, fmt.Errorf("dashboard %.64q: %w", id, dashstore.ErrNotFound)
	}
	out := make([]dashstore.Meta, len(vs))
	for i, v := range vs {
		out[len(vs)-1-i] = v.meta
	}
	return out, nil
}

// Put implements dashstore.Store. The announcement is appended to the
// tenant's dashboard.ChangesStream under the dashboards' lock, so
// announcements follow saves in order; if it cannot be appended (the
// tenant's stream quota), nothing is saved.
func (s *Store) Put(ctx context.Context, tenant string, d dashboard.Dashboard, by string) (dashstore.Meta, error) {
	spec, err := json.Marshal(d)
	if err != nil {
		return dashstore.Meta{}, fmt.Errorf("save dashboard %.64q: %w", d.ID, err)
	}
	s.dashMu.Lock()
	defer s.dashMu.Unlock()
	k := key{tenant, d.ID}
	vs := s.dash[k]
	next := 1
	if len(vs) > 0 {
		cur := vs[len(vs)-1]
		if bytes.Equal(cur.spec, spec) {
			return cur.meta, nil
		}
		next = cur.meta.Version + 1
	} else if s.dashCount(tenant) >= dashstore.MaxDashboards {
		return dashstore.Meta{}, fmt.Errorf("save dashboard %.64q: %w", d.ID, dashstore.ErrTooMany)
	}
	m := dashstore.Meta{ID: d.ID, Title: d.Title, Version: next, Saved: s.cfg.Now().UTC(), By: by}
	ev := []wire.Event{dashboard.ChangeEvent(dashboard.Change{ID: d.ID, Version: next, Title: d.Title})}
	if err := s.Append(ctx, tenant, dashboard.ChangesStream, ev); err != nil {
		return dashstore.Meta{}, fmt.Errorf("save dashboard %.64q: announce: %w", d.ID, err)
	}
	vs = append(vs, version{meta: m, spec: spec})
	if len(vs) > dashstore.MaxVersions {
		vs = slices.Delete(vs, 0, len(vs)-dashstore.MaxVersions)
	}
	s.dash[k] = vs
	return m, nil
}

// Delete implements dashstore.Store.
func (s *Store) Delete(ctx context.Context, tenant, id string) error {
	s.dashMu.Lock()
	defer s.dashMu.Unlock()
	k := key{tenant, id}
	if len(s.dash[k]) == 0 {
		return fmt.Errorf("dashboard %.64q: %w", id, dashstore.ErrNotFound)
	}
	ev := []wire.Event{dashboard.ChangeEvent(dashboard.Change{ID: id, Deleted: true})}
	if err := s.Append(ctx, tenant, dashboard.ChangesStream, ev); err != nil {
		return fmt.Errorf("delete dashboard %.64q: announce: %w", id, err)
	}
	delete(s.dash, k)
	return nil
}

// Tenants implements dashstore.Store.
func (s *Store) Tenants(context.Context) ([]string, error) {
	s.dashMu.Lock()
	defer s.dashMu.Unlock()
	seen := map[string]bool{}
	out := []string{}
	for k := range s.dash {
		if !seen[k.tenant] {
			seen[k.tenant] = true
			out = append(out, k.tenant)
		}
	}
	sort.Strings(out)
	return out, nil
}

func (v version) stored() (dashstore.Stored, error) {
	st := dashstore.Stored{Meta: v.meta}
	if err := json.Unmarshal(v.spec, &st.Spec); err != nil {
		return dashstore.Stored{}, fmt.Errorf("dashboard %.64q version %d: %w", v.meta.ID, v.meta.Version, err)
	}
	return st, nil
}

// dashCount is how many dashboards tenant keeps. s.dashMu must be held.
func (s *Store) dashCount(tenant string) int {
	n := 0
	for k := range s.dash {
		if k.tenant == tenant {
			n++
		}
	}
	return n
}

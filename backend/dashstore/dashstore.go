// Package dashstore is the contract of where each tenant's dashboards are
// kept: the embedded store and PostgreSQL both implement Store.
//
// It must never let one tenant's call read or change another tenant's
// dashboards: every method takes the tenant, which the caller has from a
// verified token, never from a request's body or path.
package dashstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/telltale/telltale/shared/dashboard"
)

// MaxVersions is how many versions of a dashboard are kept, the current one
// included; older ones are dropped as new ones are saved.
const MaxVersions = 50

// MaxDashboards is how many dashboards one tenant may keep: a new one past
// it is refused (ErrTooMany) until one is deleted. The hub keeps this many
// rows of the tenant's dashboard.ChangesStream, so its snapshot lists them
// all.
const MaxDashboards = 500

// ErrNotFound is a dashboard (or version) the tenant does not have.
var ErrNotFound = errors.New("no such dashboard")

// ErrTooMany is refusing a new dashboard to a tenant that has MaxDashboards.
var ErrTooMany = fmt.Errorf("the tenant has %d dashboards, the most it may keep: delete one first", MaxDashboards)

// Meta describes a stored dashboard.
type Meta struct {
	ID      string    `json:"id"`
	Title   string    `json:"title"`
	Version int       `json:"version"` // 1 for the first save, then +1 for each
	Saved   time.Time `json:"saved"`
	By      string    `json:"by,omitempty"` // the token's subject, or "provisioning:FILE"
}

// Stored is one version of a dashboard and its spec as it was saved.
type Stored struct {
	Meta
	Spec dashboard.Dashboard `json:"spec"`
}

// Store keeps each tenant's dashboards and their versions. Put and Delete
// announce the change on the tenant's dashboard.ChangesStream in the same
// transaction (or under the same lock), so that a page following it never
// misses one and never sees one that was not saved.
type Store interface {
	// List returns the tenant's dashboards, by id.
	List(ctx context.Context, tenant string) ([]Meta, error)
	// Get returns the current version of a dashboard.
	Get(ctx context.Context, tenant, id string) (Stored, error)
	// Version returns one kept version of a dashboard.
	Version(ctx context.Context, tenant, id string, version int) (Stored, error)
	// Versions lists a dashboard's kept versions, newest first.
	Versions(ctx context.Context, tenant, id string) ([]Meta, error)
	// Put saves d (valid and resolved: the caller checks) as the next
	// version of d.ID, creating it if need be, and returns what it saved.
	// A spec equal to the current version saves nothing and returns it.
	// A new dashboard past MaxDashboards is ErrTooMany.
	Put(ctx context.Context, tenant string, d dashboard.Dashboard, by string) (Meta, error)
	// Delete removes a dashboard and its versions.
	Delete(ctx context.Context, tenant, id string) error
	// Tenants lists the tenants that have dashboards (the aggregate engine
	// computes what their dashboards declare).
	Tenants(ctx context.Context) ([]string, error)
}

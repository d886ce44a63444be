package pgstore

import (
	"context"
	"testing"

	"github.com/telltale/telltale/backend/store"
	"github.com/telltale/telltale/backend/store/storetest"
)

// TestStoreContract: PostgreSQL keeps the store contract, each case on a
// migrated database of its own (pgtest).
func TestStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T, cfg storetest.Config) store.Log {
		s := New(Config{Pool: migrated(t).Pool})
		if cfg.MaxStreamsPerTenant > 0 {
			if err := s.SetStreamQuota(context.Background(), cfg.MaxStreamsPerTenant); err != nil {
				t.Fatal(err)
			}
		}
		return s
	})
}

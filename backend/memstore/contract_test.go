package memstore

import (
	"testing"

	"github.com/telltale/telltale/backend/store"
	"github.com/telltale/telltale/backend/store/storetest"
)

// TestStoreContract: the embedded store keeps the store contract.
func TestStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T, cfg storetest.Config) store.Log {
		return New(Config{MaxStreamsPerTenant: cfg.MaxStreamsPerTenant})
	})
}

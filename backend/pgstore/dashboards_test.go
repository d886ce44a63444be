package pgstore

import (
	"testing"

	"github.com/telltale/telltale/backend/dashstore/dashstoretest"
)

func TestDashboards(t *testing.T) {
	dashstoretest.Run(t, func(t *testing.T) dashstoretest.Subject {
		return New(Config{Pool: migrated(t).Pool})
	})
}

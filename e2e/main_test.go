//go:build e2e

package e2e

import (
	"os"
	"testing"

	"github.com/telltale/telltale/internal/pgtest"
)

// TestMain stops a throwaway PostgreSQL cluster if pgtest had to start one.
func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

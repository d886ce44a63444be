package sla

import (
	"os"
	"testing"

	"github.com/telltale/telltale/backend/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

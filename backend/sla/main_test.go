package sla

import (
	"os"
	"testing"

	"github.com/telltale/telltale/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

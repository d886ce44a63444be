package aggregate

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/telltale/telltale/internal/pgtest"
)

// TestMain gives the property test its PostgreSQL (pgtest), and checks that
// every goroutine has an owner that waits for it: none may outlive the tests.
func TestMain(m *testing.M) {
	code := pgtest.Main(m)
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// Package examples holds the example dashboards (warehouse/, trading/,
// fleet/: each a dashboard.yaml with the SQL or the script that feeds it) and
// gives their specs to the demo feed, which serves them as built-ins.
//
// It must never hold anything but examples: no server code reads it except
// through Dashboards.
package examples

import (
	"embed"
	"fmt"
	"io/fs"

	"github.com/telltale/telltale/shared/dashboard"
)

// Names are the examples' folders, in the order the picker lists them.
var Names = []string{"warehouse", "trading", "fleet"}

//go:embed */dashboard.yaml
var files embed.FS

// Dashboards parses and validates every example's dashboard.yaml.
func Dashboards() ([]dashboard.Dashboard, error) {
	var out []dashboard.Dashboard
	for _, name := range Names {
		path := name + "/dashboard.yaml"
		b, err := fs.ReadFile(files, path)
		if err != nil {
			return nil, fmt.Errorf("examples: %w", err)
		}
		ds, err := dashboard.ParseYAML(b)
		if err != nil {
			return nil, fmt.Errorf("examples/%s:%w", path, err)
		}
		for i := range ds {
			if err := ds[i].Validate(); err != nil {
				return nil, fmt.Errorf("examples/%s: %w", path, err)
			}
		}
		out = append(out, ds...)
	}
	return out, nil
}

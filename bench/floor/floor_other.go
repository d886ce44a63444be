//go:build !linux

package floor

import "errors"

// Reader does nothing off Linux.
func Reader() {}

// Run is Linux only.
func Run(Config) (Result, error) { return Result{}, errors.New("floor: Linux only") }

// Package e2e drives the real telltale binary in real Chromium with rod: the
// dashboard goes live, charts are drawn with demo data, phones get no
// horizontal scroll. The tests carry the e2e build tag and run through
// `make e2e` (part of `make test`), which builds the binary and web folder
// first and tells the tests where they are.
//
// It must never reach past the loopback interface: the server listens on
// 127.0.0.1:0 and Chromium runs with its background networking disabled.
package e2e

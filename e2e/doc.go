// Package e2e drives the real telltale binary in real Chromium with rod: the
// dashboard goes live, charts are drawn with demo data, phones get no
// horizontal scroll. The tests carry the e2e build tag and run through
// `make e2e` (part of `make test`), which builds the binary and web folder
// first and tells the tests where they are.
//
// Each test owns what it starts (its server binary on a port of its own,
// its Chromium with a fresh profile, its PostgreSQL database, its temp
// dirs), so most call t.Parallel: `make e2e` runs E2E_PARALLEL of them at
// once. A test that asserts a latency or a rate (a badge within 3 s, a page
// back within its backoff bound, a token renewed before it expires, 200
// events acknowledged within 20 s), emulates a phone as a fraction of this
// machine's CPU, or depends on Chromium's throttling of hidden pages does
// not, and says why in its first line: Go runs such tests first, one at a
// time, before any parallel test starts, so nothing else of the suite
// shares the CPU with them.
//
// It must never reach past the loopback interface: the server listens on
// 127.0.0.1:0 and Chromium runs with its background networking disabled.
package e2e

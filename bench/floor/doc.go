// Package floor measures the floor under the fan-out benchmark's
// server_us_per_delivery: what this machine's kernel alone costs to send one
// small frame to one of many loopback TCP connections read by another
// process, at the fan-out benchmark's shape (thousands of connections, a few
// frames a second each, every connection written in one burst per event).
//
// A server cannot spend less per delivery than this: it is one send of a
// prebuilt frame per connection and nothing else (no encoding, no outbox, no
// scheduling, no WebSocket state). On loopback it includes the receiver's
// TCP work, which the kernel does in the sending task, exactly as it does
// for the real server in bench/cmd/fanout. The ratio of the two figures,
// measured side by side on one machine, is what the server adds to the
// kernel; the absolute figures move with the machine (the VM, its kernel,
// what else runs) and compare only within one session.
//
// Linux only (raw write(2) and io_uring).
package floor

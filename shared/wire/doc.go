// Package wire is the contract both ends of a Telltale connection compile: the
// frame and event types, the msgpack codec with its protocol version, cursors,
// columnar point batches, stream-name rules and typed error codes.
//
// It must never import anything beyond the standard library and msgpack: the
// wasm client, the backend and the load generator all link it.
package wire

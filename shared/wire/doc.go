// Package wire is the contract both ends of a Telltale connection compile: the
// frame and event types, their msgpack encoding with its protocol version,
// cursors, columnar point batches, stream-name rules and typed error codes.
//
// It must never import anything beyond the standard library: the wasm client,
// the backend and the load generator all link it, and the browser build has a
// size budget the msgpack library alone used to break. Frames are written and
// read by hand (append.go, reader.go); tests hold both to the library.
package wire

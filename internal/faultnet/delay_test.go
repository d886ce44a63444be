package faultnet

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"
)

// A delayed proxy carries every byte, in order, and a round trip through it
// takes at least twice the delay.
func TestDelayEachWay(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() { // an echo server
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.Copy(c, c)
	}()
	p := New(t, ln.Addr().String())
	const d = 100 * time.Millisecond
	p.SetDelay(d)
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	msg := bytes.Repeat([]byte("0123456789"), 20_000) // several chunks
	start := time.Now()
	go func() { _, _ = c.Write(msg) }()
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 2*d {
		t.Fatalf("round trip took %v through a proxy delaying %v each way", took, d)
	}
	if !bytes.Equal(got, msg) {
		t.Fatal("bytes changed or reordered")
	}
	c.Close()
	<-done
}

package wsgate

import (
	"context"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/auth"
	"github.com/telltale/telltale/shared/wire"
)

// TestPingDuringASlowHelloRacesNothing: a connection whose hello is still
// being verified (a slow token check) gets its pings all the same, written
// by a flusher while the handshake goes on and then sets the tenant. The
// flusher must not read the tenant the handshake writes (the race detector
// failed this test when the flusher looked the tenant's histogram up from
// c.tenant).
func TestPingDuringASlowHelloRacesNothing(t *testing.T) {
	release := make(chan struct{})
	f := start(t, Config{
		PingInterval: time.Second,
		Authenticate: func(ctx context.Context, _ string) (*auth.Principal, error) {
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			return &auth.Principal{Subject: "op", Tenant: "demo", Expires: time.Now().Add(time.Hour)}, nil
		},
	})
	r := dial(t, f.url)
	r.send(wire.Hello{Token: "slow"})
	// A ping arrives while the hello waits: a flusher built and wrote it
	// before the handshake knew the tenant. (The reader is held by the
	// hello, so the connection is closed two intervals after it: release
	// the hello at the first ping.)
	fr, err := r.read()
	if err != nil {
		t.Fatalf("waiting for a ping during the hello: %v", err)
	}
	if fr.FrameType() != wire.TypePing {
		t.Fatalf("got %s before the hello was answered, want a ping", fr.FrameType())
	}
	close(release)
	r.expect(wire.TypeWelcome)
	r.send(wire.Sub{Stream: "s"})
	r.expect(wire.TypeSnapshot)
	f.publish(t, "s", 3)
	r.expect(wire.TypeBatch)
}

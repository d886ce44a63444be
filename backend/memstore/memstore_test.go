package memstore

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/telltale/telltale/backend/store"
	"github.com/telltale/telltale/shared/wire"
)

func TestAppendAssignsContiguousSeqs(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	got := map[string][]uint64{}
	s := New(Config{Capacity: 5, Sink: func(tenant string, evs []wire.Event) {
		mu.Lock()
		defer mu.Unlock()
		for _, ev := range evs {
			got[tenant+"/"+ev.Stream] = append(got[tenant+"/"+ev.Stream], ev.Seq)
		}
	}})
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if err := s.Append(ctx, "t1", "orders", make([]wire.Event, 2)); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if err := s.Append(ctx, "t2", "orders", make([]wire.Event, 1)); err != nil {
		t.Fatal(err)
	}
	seqs := got["t1/orders"]
	if len(seqs) != 400 {
		t.Fatalf("got %d events, want 400", len(seqs))
	}
	for i, q := range seqs {
		if q != uint64(i+1) {
			t.Fatalf("sink saw seq %d at position %d, want %d", q, i, i+1)
		}
	}
	if g := got["t2/orders"]; len(g) != 1 || g[0] != 1 {
		t.Fatalf("got t2 seqs %v, want [1]: tenants must not share a sequence", g)
	}
}

func TestReadWindow(t *testing.T) {
	t.Parallel()
	s := New(Config{Capacity: 5})
	ctx := context.Background()
	for i := 0; i < 8; i++ {
		if err := s.Append(ctx, "t", "m", make([]wire.Event, 1)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		after   uint64
		limit   int
		want    []uint64
		wantErr error
	}{
		{"tail", 5, 10, []uint64{6, 7, 8}, nil},
		{"limited", 3, 2, []uint64{4, 5}, nil},
		{"oldest kept", 3, 10, []uint64{4, 5, 6, 7, 8}, nil},
		{"caught up", 8, 10, nil, nil},
		{"trimmed", 2, 10, nil, store.ErrTrimmed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := s.Read(ctx, "t", "m", tt.after, tt.limit)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got err %v, want %v", err, tt.wantErr)
			}
			var got []uint64
			for _, ev := range evs {
				got = append(got, ev.Seq)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
}

// TestAppendStampsStored: the store stamps when it kept each event (issue
// 18's database stage), after the producer's Created, and a read gives the
// same stamp back.
func TestAppendStampsStored(t *testing.T) {
	t.Parallel()
	var sunk []wire.Event
	s := New(Config{Sink: func(_ string, evs []wire.Event) { sunk = append(sunk, evs...) }})
	ctx := context.Background()
	before := time.Now().UnixNano()
	evs := []wire.Event{{Created: before - int64(time.Second)}, {}}
	if err := s.Append(ctx, "t", "m", evs); err != nil {
		t.Fatal(err)
	}
	after := time.Now().UnixNano()
	read, err := s.Read(ctx, "t", "m", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(sunk) != 2 || len(read) != 2 {
		t.Fatalf("got %d sunk and %d read, want 2 and 2", len(sunk), len(read))
	}
	for i := range 2 {
		if st := sunk[i].Stored; st < before || st > after || st < sunk[i].Created {
			t.Fatalf("event %d: got Stored %d, want within [%d, %d] and not before Created %d", i, st, before, after, sunk[i].Created)
		}
		if read[i].Stored != sunk[i].Stored {
			t.Fatalf("event %d: read Stored %d, sink saw %d", i, read[i].Stored, sunk[i].Stored)
		}
	}
}

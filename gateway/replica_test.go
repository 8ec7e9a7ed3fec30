package gateway

import (
	"testing"
	"time"
)

// REPLICA_MAX_LAG compares what the replica has replayed with what the
// primary had written maxLag ago: the newest sample at least that old.
func TestReplicaBehindMaxLag(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := &replica{maxLag: time.Second}
	if r.behindMaxLag(t0, 0) {
		t.Fatal("lagging with no sample at all")
	}
	// The primary at 100 at t0, 200 half a second later, 300 a second later.
	r.sample(t0, 100)
	r.sample(t0.Add(500*time.Millisecond), 200)
	if r.behindMaxLag(t0.Add(900*time.Millisecond), 0) {
		t.Fatal("lagging before any sample is maxLag old")
	}
	r.sample(t0.Add(1100*time.Millisecond), 300)
	for _, c := range []struct {
		at       time.Duration
		replayed uint64
		want     bool
	}{
		{1100 * time.Millisecond, 99, true},   // not even what the primary had a second ago (100)
		{1100 * time.Millisecond, 100, false}, // that, but not the rest: within the limit
		{1600 * time.Millisecond, 150, true},  // a second before, the primary was at 200
		{1600 * time.Millisecond, 200, false},
	} {
		if got := r.behindMaxLag(t0.Add(c.at), c.replayed); got != c.want {
			t.Errorf("at +%v with %d replayed: lagging %v, want %v", c.at, c.replayed, got, c.want)
		}
	}
	// Older samples than the newest one at least maxLag old are dropped.
	r.sample(t0.Add(2*time.Second), 400)
	if len(r.samples) != 3 || r.samples[0].lsn != 200 {
		t.Errorf("samples kept: %+v, want those from 200 on", r.samples)
	}
	// No limit: never lagging.
	off := &replica{}
	off.sample(t0, 100)
	if off.behindMaxLag(t0.Add(time.Hour), 0) || len(off.samples) != 0 {
		t.Error("REPLICA_MAX_LAG=0 limits")
	}
}

package gateway

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// replica sends the read-only routes to a streaming replica
// (REPLICA_DATABASE_URL), with read-your-writes for each client of this
// gateway, keyed by a digest of its session token:
//
//   - a call that may have written (any route not marked ReadOnly, or a read
//     repeated on the primary) marks its client's key as pending;
//   - every pollInterval, the poller reads the primary's pg_current_wal_lsn()
//     (after those writes committed, so at or beyond their commits) and gives
//     it to every key pending since the last poll, then reads the replica's
//     pg_last_wal_replay_lsn() and forgets the keys it has replayed;
//   - a read whose key is still pending or not replayed goes to the primary.
//
// So a client sees its own writes on its next read, through this gateway,
// without a round trip per write; the keys held are those of clients that
// wrote in the last poll interval plus the replica's lag (at most maxKeys;
// beyond, a write holds every client's reads on the primary until the
// replica has replayed it). While the poller cannot reach the replica, reads
// go to the primary.
//
// The poller also keeps the primary's LSN of each poll for REPLICA_MAX_LAG:
// while the replica has not replayed what the primary had written maxLag
// ago, it is lagging, and every read goes to the primary (a revoked session,
// another client's write, would otherwise stay unseen for as long as the lag).
type replica struct {
	pool     *pgxpool.Pool
	primary  *pgxpool.Pool
	pipe     *pipeliner // DB_PIPELINE: batches the replica's calls too
	interval time.Duration

	// replayed is the replica's last replay LSN seen by the poller; up says
	// the last poll reached it.
	replayed atomic.Uint64
	up       atomic.Bool
	polled   atomic.Bool // a poll has finished (for the log: down from the start is said once)
	// lagging: the replica is further behind than maxLag (0: no limit).
	lagging atomic.Bool
	maxLag  time.Duration
	samples []lsnSample // the primary's LSN at each poll, oldest first; the poller's own

	mu   sync.Mutex
	keys map[clientKey]*written
	// all stands for every client once keys is full.
	all written
	// poll counts the polls: a key marked pending during poll n gets the
	// primary's LSN read by poll n+1 or later.
	poll uint64

	stop context.CancelFunc
	done chan struct{}
}

// clientKey is a digest of a client's session token: the raw token is not
// kept in memory longer than its request.
type clientKey [sha256.Size]byte

// lsnSample is the primary's WAL position at a time.
type lsnSample struct {
	at  time.Time
	lsn uint64
}

// written is where a client's last write stands: pending (its LSN to be read
// by the poll after pendingSince), or at lsn.
type written struct {
	pending      bool
	pendingSince uint64
	lsn          uint64
}

const (
	pollInterval = 50 * time.Millisecond
	maxKeys      = 100_000
)

// replicaRead says why a read-only route went where it went, for the metrics.
const (
	readOnReplica        = "replica"
	readBehind           = "behind"      // the client's write is not replayed yet
	readReplicaDown      = "unavailable" // the poller cannot reach the replica
	readReplicaReadOnly  = "read_only"   // the function had to write (25006)
	readReplicaConflict  = "conflict"    // replay cancelled the query (40001)
	readReplicaConnError = "unreachable" // the call could not reach the replica
	readUnknownSession   = "unknown_session"
	readReplicaLagging   = "lagging" // further behind than REPLICA_MAX_LAG
)

// NewReplicaPool opens the replica's pool (REPLICA_DATABASE_URL), configured
// as NewPool configures the primary's; nil when no replica is configured.
func NewReplicaPool(ctx context.Context, cfg Config) (*pgxpool.Pool, error) {
	if cfg.ReplicaDatabaseURL == "" {
		return nil, nil
	}
	c := cfg
	c.DatabaseURL = cfg.ReplicaDatabaseURL
	pool, err := NewPool(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("REPLICA_DATABASE_URL: %w", errors.Unwrap(err))
	}
	return pool, nil
}

// UseReplica sends the read-only routes to the replica's pool from now on
// and starts its poller; Close stops it. Call it before serving.
func (s *Server) UseReplica(pool *pgxpool.Pool) {
	if pool == nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &replica{pool: pool, primary: s.pool, interval: pollInterval, keys: map[clientKey]*written{},
		maxLag: s.cfg.ReplicaMaxLag, stop: cancel, done: make(chan struct{})}
	if s.cfg.Pipeline {
		r.pipe = newPipeliner(func(ctx context.Context) (*pgxpool.Conn, error) { return s.acquire(ctx, pool) },
			max(1, int(s.cfg.PoolSize)-1), s.callTimeout(), s.metrics.batchSize)
	}
	s.replica = r
	s.metrics.addReplica(pool)
	go r.run(ctx, s)
}

// Close stops what New and UseReplica started (the replica's poller and
// pipeliner, the span exporter after its last spans); the pools are the
// caller's to close, after it.
func (s *Server) Close() {
	s.shutdownTracing()
	if s.replica != nil {
		s.replica.stop()
		<-s.replica.done
		if s.replica.pipe != nil {
			s.replica.pipe.Close()
		}
	}
}

func (r *replica) run(ctx context.Context, s *Server) {
	defer close(r.done)
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		r.pollOnce(ctx, s)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// lsnSQL is an LSN as a number (bytes since 0/0).
const (
	primaryLSNSQL  = "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint"
	replayedLSNSQL = "SELECT (pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint"
)

func (r *replica) pollOnce(ctx context.Context, s *Server) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	r.mu.Lock()
	cut := r.poll
	r.poll++
	pending := r.all.pending
	for _, w := range r.keys {
		pending = pending || w.pending
	}
	r.mu.Unlock()
	if pending || r.maxLag > 0 {
		var lsn int64
		if err := r.primary.QueryRow(ctx, primaryLSNSQL).Scan(&lsn); err == nil {
			r.sample(time.Now(), uint64(lsn))
			r.mu.Lock()
			for _, w := range append([]*written{&r.all}, mapValues(r.keys)...) {
				if w.pending && w.pendingSince <= cut {
					w.pending, w.lsn = false, uint64(lsn)
				}
			}
			r.mu.Unlock()
		}
	}
	var replayed *int64
	if err := r.pool.QueryRow(ctx, replayedLSNSQL).Scan(&replayed); err != nil || replayed == nil {
		// Down, or not a replica at all (pg_last_wal_replay_lsn is NULL on a primary).
		wasUp, first := r.up.Swap(false), !r.polled.Swap(true)
		if (wasUp || first) && ctx.Err() == nil {
			s.log.Warn().AnErr("error", err).Msg("the replica is unavailable: read-only routes go to the primary")
		}
		return
	}
	r.replayed.Store(uint64(*replayed))
	r.polled.Store(true)
	if !r.up.Swap(true) {
		s.log.Info().Msg("the replica is available: read-only routes go to it")
	}
	lagging := r.behindMaxLag(time.Now(), uint64(*replayed))
	if was := r.lagging.Swap(lagging); lagging && !was {
		s.log.Warn().Dur("max_lag", r.maxLag).Msg("the replica lags more than REPLICA_MAX_LAG: read-only routes go to the primary")
	} else if was && !lagging {
		s.log.Info().Msg("the replica has caught up: read-only routes go to it")
	}
	r.mu.Lock()
	for k, w := range r.keys {
		if !w.pending && w.lsn <= uint64(*replayed) {
			delete(r.keys, k)
		}
	}
	r.mu.Unlock()
}

// sample keeps the primary's LSN of this poll, and of the older polls only
// the newest one at least maxLag old (what behindMaxLag compares with).
func (r *replica) sample(now time.Time, lsn uint64) {
	if r.maxLag <= 0 {
		return
	}
	r.samples = append(r.samples, lsnSample{at: now, lsn: lsn})
	cut := now.Add(-r.maxLag)
	i := 0
	for i+1 < len(r.samples) && !r.samples[i+1].at.After(cut) {
		i++
	}
	r.samples = r.samples[i:]
}

// behindMaxLag: the replica has not replayed what the primary had written
// maxLag ago. Both positions are the servers' own, so no clock is compared.
func (r *replica) behindMaxLag(now time.Time, replayed uint64) bool {
	cut := now.Add(-r.maxLag)
	var ref *lsnSample
	for i := range r.samples {
		if r.samples[i].at.After(cut) {
			break
		}
		ref = &r.samples[i]
	}
	return r.maxLag > 0 && ref != nil && replayed < ref.lsn
}

func mapValues(m map[clientKey]*written) []*written {
	out := make([]*written, 0, len(m))
	for _, w := range m {
		out = append(out, w)
	}
	return out
}

// route says where a read of this client goes: readOnReplica, or the reason
// it goes to the primary.
func (r *replica) route(key *clientKey) string {
	if !r.up.Load() {
		return readReplicaDown
	}
	if r.lagging.Load() {
		return readReplicaLagging
	}
	replayed := r.replayed.Load()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.all.pending || r.all.lsn > replayed {
		return readBehind
	}
	if key != nil {
		if w := r.keys[*key]; w != nil && (w.pending || w.lsn > replayed) {
			return readBehind
		}
	}
	return readOnReplica
}

// wrote marks a client's key pending: the poller will read the primary's LSN
// after this write's commit.
func (r *replica) wrote(key *clientKey) {
	r.mu.Lock()
	defer r.mu.Unlock()
	w := r.keys[*key]
	if w == nil {
		if len(r.keys) >= maxKeys {
			w = &r.all
		} else {
			w = &written{}
			r.keys[*key] = w
		}
	}
	w.pending, w.pendingSince = true, r.poll
}

// down is a call's news that the replica cannot be reached: reads go to the
// primary until the poller reaches it again.
func (r *replica) down() { r.up.Store(false) }

// keyOf is the client's key: the token it presented, or, for a login, the
// token it was given.
func keyOf(rt *Route, tok string, out []byte) *clientKey {
	if rt.Cookie == SetCookie {
		if login, ok := loginOf(out); ok {
			tok = login.Token
		}
	}
	if tok == "" {
		return nil
	}
	k := clientKey(sha256.Sum256([]byte(tok)))
	return &k
}

// retryOnPrimary says a replica's error is one the primary would not give:
// the function had to write (25006, read_only_sql_transaction: a session
// whose last_used is due, an EXPIRED or BROWSER one deleted), or replay
// cancelled the query (40001, a conflict with recovery).
func retryOnPrimary(err error) (reason string, ok bool) {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return "", false
	}
	switch pgErr.Code {
	case "25006":
		return readReplicaReadOnly, true
	case "40001":
		return readReplicaConflict, true
	}
	return "", false
}

// unknownSession says the replica answered 401 INVALID: it knows no session
// of that token. A login through another gateway, or one this gateway has
// forgotten, may not be replayed yet; the primary knows. (An invalid token
// costs a call on each, as the primary alone would cost one.)
func unknownSession(out []byte) bool {
	e := committedFailure(out)
	return e != nil && e.status == 401 && e.Code == "INVALID"
}

// replicaStatus is the replica's part of /readyz: "streaming", or "lagging"
// (further behind than REPLICA_MAX_LAG: reads go to the primary), with how
// far behind the primary it is, in bytes of WAL not yet replayed and seconds
// since the last transaction it replayed (0 when it has replayed
// everything); or "unavailable". Never a reason for a 503: the primary serves every route.
type replicaStatus struct {
	Status     string   `json:"status"`
	LagBytes   *int64   `json:"lag_bytes,omitempty"`
	LagSeconds *float64 `json:"lag_seconds,omitempty"`
}

func (r *replica) status(ctx context.Context) replicaStatus {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var primary int64
	var replayed *int64
	var age *float64
	if err := r.primary.QueryRow(ctx, primaryLSNSQL).Scan(&primary); err != nil {
		return replicaStatus{Status: "unknown"}
	}
	err := r.pool.QueryRow(ctx, replayedLSNSQL+
		", extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8").Scan(&replayed, &age)
	if err != nil || replayed == nil {
		return replicaStatus{Status: "unavailable"}
	}
	lag := max(0, primary-*replayed)
	seconds := 0.0
	if lag > 0 && age != nil {
		seconds, _ = strconv.ParseFloat(strconv.FormatFloat(max(0, *age), 'f', 3, 64), 64)
	}
	status := "streaming"
	if r.lagging.Load() {
		status = "lagging" // beyond REPLICA_MAX_LAG: serving no reads
	}
	return replicaStatus{Status: status, LagBytes: &lag, LagSeconds: &seconds}
}

package gateway

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// call runs a route's statement (callSQL) with the client's session token
// tok and answers the JSON the function returned.
//
// With a replica (REPLICA_DATABASE_URL), a ReadOnly route's call goes to it,
// unless this client's last write is not replayed there yet or the replica
// is down; a call the replica refuses because the function had to write
// (25006) or because replay cancelled it (40001), or that cannot reach it,
// is repeated on the primary, once; so is one whose token the replica does
// not know (401 INVALID), which may be a session too new to be replayed.
// Every other call goes to the primary, and one that may have written marks
// the client for read-your-writes.
//
// A bcrypt route's call is never batched (DB_PIPELINE): PostgreSQL spends
// tens of milliseconds on its hash, and the calls batched behind it on the
// same connection would wait that long for their answers. It takes a
// connection of its own, as without DB_PIPELINE (at most BCRYPT_CONCURRENCY
// at once).
func (s *Server) call(ctx context.Context, rt *Route, tok string, sql string, args []any) (out []byte, err error) {
	pipe := s.pipe
	if rt.Bcrypt {
		pipe = nil
	}
	rep := s.replica
	if rep == nil {
		return s.callOn(ctx, s.pool, pipe, s.metrics.primaryCalls, sql, args)
	}
	key := keyOf(rt, tok, nil)
	wrote := !rt.ReadOnly
	if rt.ReadOnly {
		outcome := rep.route(key)
		if outcome == readOnReplica {
			out, err = s.callOn(ctx, rep.pool, rep.pipe, s.metrics.replicaCalls, sql, args)
			if (err == nil && !unknownSession(out)) || ctx.Err() != nil {
				s.metrics.replicaReads.WithLabelValues(outcome).Inc()
				return out, err
			}
			if err == nil {
				outcome = readUnknownSession
			} else if reason, ok := retryOnPrimary(err); ok {
				outcome = reason
				wrote = reason == readReplicaReadOnly
			} else if isConnectionError(err) {
				outcome = readReplicaConnError
				rep.down()
			} else {
				s.metrics.replicaReads.WithLabelValues(readOnReplica).Inc()
				return out, err
			}
		}
		s.metrics.replicaReads.WithLabelValues(outcome).Inc()
	}
	out, err = s.callOn(ctx, s.pool, pipe, s.metrics.primaryCalls, sql, args)
	if err == nil && wrote {
		if rt.Cookie == SetCookie {
			key = keyOf(rt, tok, out)
		}
		if key != nil {
			rep.wrote(key)
		}
	}
	return out, err
}

// callOn runs the statement on one pool, counted by calls: through its
// pipeliner when DB_PIPELINE is on; otherwise on a connection of its own,
// acquired explicitly (acquire: a password rotation under way is waited
// for) so that the requests waiting for one can be counted.
func (s *Server) callOn(ctx context.Context, pool *pgxpool.Pool, pipe *pipeliner, calls prometheus.Counter,
	sql string, args []any) (out []byte, err error) {
	calls.Inc()
	if pipe != nil {
		s.metrics.waiting.Add(1)
		defer s.metrics.waiting.Add(-1)
		return pipe.call(ctx, sql, args)
	}
	// The wait for a connection and the round trip: at most callTimeout.
	if t := s.callTimeout(); t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	s.metrics.waiting.Add(1)
	conn, err := s.acquire(ctx, pool)
	s.metrics.waiting.Add(-1)
	if err != nil {
		return nil, err
	}
	defer conn.Release()
	err = conn.QueryRow(ctx, sql, args...).Scan(&out)
	return out, err
}

// callMargin is how long past STATEMENT_TIMEOUT a call waits for its answer
// before the gateway gives up on the database (504, and the connection is
// closed): PostgreSQL's own cancel (57014, also a 504) comes first whenever
// the database answers at all; this bounds a link that stopped answering.
const callMargin = 2 * time.Second

// callTimeout bounds one call, from when it asks for a connection (or is
// queued for a batch) to its answer: the statement timeout plus callMargin;
// 0 (none) without a statement timeout.
func (s *Server) callTimeout() time.Duration {
	if s.cfg.StatementTimeout <= 0 {
		return 0
	}
	return s.cfg.StatementTimeout + callMargin
}

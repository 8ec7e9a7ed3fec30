package gateway

import (
	"context"

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
func (s *Server) call(ctx context.Context, rt *Route, tok string, sql string, args []any) (out []byte, err error) {
	rep := s.replica
	if rep == nil {
		return s.callOn(ctx, s.pool, s.pipe, s.metrics.primaryCalls, sql, args)
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
	out, err = s.callOn(ctx, s.pool, s.pipe, s.metrics.primaryCalls, sql, args)
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

package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// pipeliner sends the API's calls with natural batching (DB_PIPELINE=true),
// by flat combining.
//
// Without it each request holds a connection for one round trip, and under
// load the requests that find every connection busy wait for one. Here a
// call that finds a connection free does the work itself, on its own
// goroutine: it takes the connection and sends its own call plus its share
// of the calls queued at that moment (take), all at once in PostgreSQL's
// pipeline mode, each followed by its own Sync, and answers the others (a
// call that goes alone is a plain query: pgxBatchConn.run). So each call is
// still its own implicit transaction, with its own answer, and a failed one
// rolls back nothing of its neighbours'. A call queues only when every connection
// is busy; whoever finishes a batch and finds calls queued sends its share
// of them next (on a goroutine of its own, so that its caller has its answer
// at once), and so on until the queue is empty.
// Nothing ever waits on a timer: a lone request goes out at once with no
// hand-off to another goroutine, and a slow call (a lock wait) holds up only
// the calls batched with it.
//
// A call waits at most timeout (the statement timeout plus a margin) for its
// answer, queued or in a batch: a database that stops answering (the link
// dead, nothing coming back) fails the batch's calls with a timeout, and
// its connection is closed; the calls queued meanwhile fail as soon as
// their time is up.
type pipeliner struct {
	acquire func(context.Context) (batchConn, error) // a connection of the pool
	timeout time.Duration                            // bounds one batch
	batches prometheus.Histogram                     // sizes of the batches sent

	mu     sync.Mutex
	n      int              // the connections it batches over
	free   int              // connections no batch uses now (of the n)
	queue  []*pipelinedCall // calls waiting for a connection, oldest first
	closed bool
	drains sync.WaitGroup // the goroutines sending queued batches
}

// maxBatch bounds one batch: enough to empty the queue under any load the
// pool's size suits, small enough that a batch's answers are not held back
// long by its slowest call.
const maxBatch = 64

// errPipelineClosed answers a call made after Close.
var errPipelineClosed = errors.New("pipeline: closed")

type pipelinedCall struct {
	sql    string
	args   []any
	done   chan pipelinedResult // buffered: whoever sends never waits for the caller
	at     time.Time            // when it was made: timeout counts from here
	queued bool                 // in p.queue (under p.mu)
}

type pipelinedResult struct {
	out []byte
	err error
}

// batchConn is a connection as the pipeliner uses it: run sends a batch and
// answers every call of it (closing the connection when it broke), release
// gives it back to its pool.
type batchConn interface {
	run(ctx context.Context, batch []*pipelinedCall)
	release()
}

// newPipeliner batches over n connections of one pool, which acquire takes
// (each held only while a batch is sent); timeout bounds a batch (0: no bound).
func newPipeliner(acquire func(context.Context) (*pgxpool.Conn, error), n int, timeout time.Duration,
	batches prometheus.Histogram) *pipeliner {
	return newCombiner(func(ctx context.Context) (batchConn, error) {
		conn, err := acquire(ctx)
		if err != nil {
			return nil, err
		}
		return pgxBatchConn{conn}, nil
	}, n, timeout, batches)
}

func newCombiner(acquire func(context.Context) (batchConn, error), n int, timeout time.Duration,
	batches prometheus.Histogram) *pipeliner {
	return &pipeliner{acquire: acquire, timeout: timeout, batches: batches, n: max(1, n), free: max(1, n)}
}

// Close waits for the batches under way; a call after it fails.
func (p *pipeliner) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.drains.Wait()
}

// call sends one statement and answers its row: the JSON answer. A caller
// that gives up (ctx) while its call is queued takes it out of the queue;
// once in a batch, the call is sent and its answer dropped: the caller gets
// its context's error (a caller sending the batch itself, once the batch
// is done).
func (p *pipeliner) call(ctx context.Context, sql string, args []any) ([]byte, error) {
	c := &pipelinedCall{sql: sql, args: args, done: make(chan pipelinedResult, 1), at: time.Now()}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, errPipelineClosed
	}
	if p.free == 0 {
		// Every connection is busy: wait for whoever frees one to send it.
		c.queued = true
		p.queue = append(p.queue, c)
		p.mu.Unlock()
		select {
		case r := <-c.done:
			return r.out, r.err
		case <-ctx.Done():
			p.mu.Lock()
			if c.queued {
				p.queue = slices.DeleteFunc(p.queue, func(q *pipelinedCall) bool { return q == c })
				c.queued = false
			}
			p.mu.Unlock()
			return nil, ctx.Err()
		}
	}
	// A connection is free: this caller sends its call and whatever waits.
	p.free--
	batch := p.take(c)
	p.mu.Unlock()
	p.send(batch)
	if next := p.next(); next != nil {
		p.drains.Go(func() { p.drain(next) })
	}
	r := <-c.done
	if err := ctx.Err(); err != nil {
		// The caller gave up while its batch ran (the others' answers kept
		// it going): as a queued caller does, it gets its context's error.
		return nil, err
	}
	return r.out, r.err
}

// take is a batch: first (when not nil) and its share of the calls queued,
// oldest first: a 2n-th of them (rounded up; all of them over a single
// connection, where there is nothing to spread over), at most maxBatch in all. The
// other connections, as each frees, take theirs: so the queue is spread over
// every connection, in batches small enough that none holds its last call
// long, rather than sent whole on the first one free, behind which its last
// call would wait for all the others. Measured on loopback at 64 clients
// (docs/benchmarks.md): the whole queue gave a p99 about twice the floor's,
// an n-th of it 1.2 times, a 2n-th or a 4n-th about the floor's, at the
// same throughput. Under p.mu.
func (p *pipeliner) take(first *pipelinedCall) []*pipelinedCall {
	share := len(p.queue)
	if p.n > 1 {
		share = (share + 2*p.n - 1) / (2 * p.n)
	}
	batch := make([]*pipelinedCall, 0, min(maxBatch, share+1))
	if first != nil {
		batch = append(batch, first)
	}
	n := min(maxBatch-len(batch), share)
	for _, c := range p.queue[:n] {
		c.queued = false
		batch = append(batch, c)
	}
	rest := copy(p.queue, p.queue[n:])
	clear(p.queue[rest:])
	p.queue = p.queue[:rest]
	return batch
}

// next is the next batch for the connection slot just used, or nil (the
// slot freed) when nothing is queued.
func (p *pipeliner) next() []*pipelinedCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.queue) == 0 {
		p.free++
		return nil
	}
	return p.take(nil)
}

// drain sends queued batches until the queue is empty.
func (p *pipeliner) drain(batch []*pipelinedCall) {
	for batch != nil {
		p.send(batch)
		batch = p.next()
	}
}

// send runs one batch on a connection of the pool and answers every call of it.
func (p *pipeliner) send(batch []*pipelinedCall) {
	p.batches.Observe(float64(len(batch)))
	// The calls' own contexts do not apply here (one giving up must not
	// break the others' batch): the statement timeout, enforced by
	// PostgreSQL, bounds each call, and timeout the batch, counted from
	// when its oldest call was made, so that no call waits longer than
	// timeout for its answer, queued or not.
	ctx := context.Background()
	if p.timeout > 0 {
		oldest := batch[0].at
		for _, c := range batch[1:] {
			if c.at.Before(oldest) {
				oldest = c.at
			}
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, oldest.Add(p.timeout))
		defer cancel()
	}
	conn, err := p.acquire(ctx)
	if err != nil {
		answerAll(batch, err)
		return
	}
	defer conn.release()
	conn.run(ctx, batch)
}

func answerAll(batch []*pipelinedCall, err error) {
	for _, c := range batch {
		c.done <- pipelinedResult{err: err}
	}
}

// textArgs are the call's arguments in PostgreSQL's text format (nil: NULL);
// the server reads each as the type its parameter has.
func textArgs(args []any) [][]byte {
	out := make([][]byte, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case nil:
		case string:
			out[i] = []byte(v)
		case int64:
			out[i] = strconv.AppendInt(nil, v, 10)
		case fmt.Stringer:
			out[i] = []byte(v.String())
		default:
			out[i] = fmt.Append(nil, v)
		}
	}
	return out
}

// statementName names a statement by its text, so each connection prepares
// it once and pgx's cache knows it again.
func statementName(sql string) string {
	sum := sha256.Sum256([]byte(sql))
	return "homebase_" + hex.EncodeToString(sum[:8])
}

// pgxBatchConn is a connection of a pgxpool.
type pgxBatchConn struct{ conn *pgxpool.Conn }

func (c pgxBatchConn) release() { c.conn.Release() }

// run sends the batch in pipeline mode and answers every call of it. A
// connection that broke (or timed out) is closed, so that its pool
// discards it. A batch of one (the lone call, most of them at low load) is
// sent as a plain query, exactly as without DB_PIPELINE: pipeline mode only
// costs there (its own state, a copy of each row).
func (c pgxBatchConn) run(ctx context.Context, batch []*pipelinedCall) {
	conn := c.conn
	if len(batch) == 1 {
		var r pipelinedResult
		r.err = conn.QueryRow(ctx, batch[0].sql, batch[0].args...).Scan(&r.out)
		batch[0].done <- r
		return
	}
	pc := conn.Conn().PgConn()
	// Each statement prepared once per connection (pgx caches it by name); a
	// call whose statement does not prepare (its function is gone, say) is
	// answered with that error and not sent.
	descs := make([]*pgconn.StatementDescription, len(batch))
	prepErrs := make([]error, len(batch))
	for i, call := range batch {
		if descs[i], prepErrs[i] = conn.Conn().Prepare(ctx, statementName(call.sql), call.sql); prepErrs[i] != nil {
			if !isPgError(prepErrs[i]) {
				answerAll(batch, prepErrs[i])
				pc.Close(ctx)
				return
			}
		}
	}

	pipe := pc.StartPipeline(ctx)
	for i, call := range batch {
		if prepErrs[i] == nil {
			pipe.SendQueryStatement(descs[i], textArgs(call.args), nil, nil)
			pipe.SendPipelineSync()
		}
	}
	if err := pipe.Flush(); err != nil {
		pipe.Close()
		answerAll(batch, err)
		pc.Close(ctx)
		return
	}
	for i, call := range batch {
		if prepErrs[i] != nil {
			call.done <- pipelinedResult{err: prepErrs[i]}
			continue
		}
		r := readOne(pipe)
		call.done <- r
		if r.err != nil && !isPgError(r.err) {
			// The connection broke or timed out: the rest of the batch
			// cannot be read.
			answerAll(batch[i+1:], r.err)
			pipe.Close()
			pc.Close(ctx)
			return
		}
	}
	if err := pipe.Close(); err != nil && !isPgError(err) {
		pc.Close(ctx)
	}
}

// readOne reads one call's results: its row (or error), then its Sync.
func readOne(pipe *pgconn.Pipeline) pipelinedResult {
	var r pipelinedResult
	res, err := pipe.GetResults()
	switch {
	case err != nil:
		r.err = err
	case res == nil:
		r.err = errors.New("pipeline: no result")
	default:
		rr, ok := res.(*pgconn.ResultReader)
		if !ok {
			r.err = fmt.Errorf("pipeline: unexpected %T", res)
			break
		}
		result := rr.Read()
		switch {
		case result.Err != nil:
			r.err = result.Err
		case len(result.Rows) != 1 || len(result.Rows[0]) != 1:
			r.err = fmt.Errorf("pipeline: %d rows", len(result.Rows))
		default:
			r.out = result.Rows[0][0]
		}
	}
	if r.err != nil && !isPgError(r.err) {
		return r
	}
	// The Sync that ends this call's implicit transaction.
	if res, err := pipe.GetResults(); err != nil {
		r.err = err
	} else if _, ok := res.(*pgconn.PipelineSync); !ok {
		r.err = fmt.Errorf("pipeline: expected the Sync, got %T", res)
	}
	return r
}

func isPgError(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr)
}

package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// pipeliner sends the API's calls with natural batching (DB_PIPELINE=true).
//
// Without it each request holds a connection for one round trip, and under
// load the requests that find every connection busy wait for one. Here a
// few workers, one connection each, take the calls from one queue: a worker
// that is free takes the first call waiting, plus every call queued behind
// it, and sends them all at once in PostgreSQL's pipeline mode, each call
// followed by its own Sync. So each call is still its own implicit
// transaction, with its own answer, and a failed one rolls back
// nothing of its neighbours'. Nothing ever waits on a timer: a lone request
// goes out at once, and a call that finds a worker free takes it, so a slow
// call (a lock wait) holds up only the calls batched with it.
type pipeliner struct {
	acquire func(context.Context) (*pgxpool.Conn, error) // Server.acquire of one pool
	batches prometheus.Histogram                         // sizes of the batches sent
	queue   chan *pipelinedCall
	workers sync.WaitGroup
	stop    context.CancelFunc
}

// maxBatch bounds one batch: enough to empty the queue under any load the
// pool's size suits, small enough that a batch's answers are not held back
// long by its slowest call.
const maxBatch = 64

type pipelinedCall struct {
	sql  string
	args [][]byte
	done chan pipelinedResult // buffered: the worker never waits for the caller
}

type pipelinedResult struct {
	out []byte
	err error
}

// newPipeliner starts n workers over one pool, whose connections acquire
// takes (each worker holds one only while it sends a batch).
func newPipeliner(acquire func(context.Context) (*pgxpool.Conn, error), n int, batches prometheus.Histogram) *pipeliner {
	ctx, cancel := context.WithCancel(context.Background())
	p := &pipeliner{acquire: acquire, batches: batches, queue: make(chan *pipelinedCall, 1024), stop: cancel}
	for range n {
		p.workers.Go(func() { p.work(ctx) })
	}
	return p
}

// Close stops the workers once the calls queued have been answered.
func (p *pipeliner) Close() {
	p.stop()
	p.workers.Wait()
}

// call queues one statement and waits for its row: the JSON answer. The caller giving up (ctx) does not take the call
// out of its batch; its answer is dropped.
func (p *pipeliner) call(ctx context.Context, sql string, args []any) ([]byte, error) {
	c := &pipelinedCall{sql: sql, args: textArgs(args), done: make(chan pipelinedResult, 1)}
	select {
	case p.queue <- c:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case r := <-c.done:
		return r.out, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
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

func (p *pipeliner) work(ctx context.Context) {
	for {
		var first *pipelinedCall
		select {
		case first = <-p.queue:
		case <-ctx.Done():
			return
		}
		batch := []*pipelinedCall{first}
	drain:
		for len(batch) < maxBatch {
			select {
			case c := <-p.queue:
				batch = append(batch, c)
			default:
				break drain
			}
		}
		p.batches.Observe(float64(len(batch)))
		p.send(batch)
	}
}

// statementName names a statement by its text, so each connection prepares
// it once and pgx's cache knows it again.
func statementName(sql string) string {
	sum := sha256.Sum256([]byte(sql))
	return "homebase_" + hex.EncodeToString(sum[:8])
}

// send runs one batch on one connection and answers every call of it.
func (p *pipeliner) send(batch []*pipelinedCall) {
	answerAll := func(err error) {
		for _, c := range batch {
			c.done <- pipelinedResult{err: err}
		}
	}
	// The calls' own contexts do not apply here: the statement timeout,
	// enforced by PostgreSQL, bounds each call.
	ctx := context.Background()
	conn, err := p.acquire(ctx)
	if err != nil {
		answerAll(err)
		return
	}
	defer conn.Release()

	// Each statement prepared once per connection (pgx caches it by name); a
	// call whose statement does not prepare (its function is gone, say) is
	// answered with that error and not sent.
	descs := make([]*pgconn.StatementDescription, len(batch))
	prepErrs := make([]error, len(batch))
	for i, c := range batch {
		if descs[i], prepErrs[i] = conn.Conn().Prepare(ctx, statementName(c.sql), c.sql); prepErrs[i] != nil {
			if !isPgError(prepErrs[i]) {
				answerAll(prepErrs[i])
				return
			}
		}
	}

	pc := conn.Conn().PgConn()
	pipe := pc.StartPipeline(ctx)
	for i, c := range batch {
		if prepErrs[i] == nil {
			pipe.SendQueryStatement(descs[i], c.args, nil, nil)
			pipe.SendPipelineSync()
		}
	}
	if err := pipe.Flush(); err != nil {
		pipe.Close()
		answerAll(err)
		return
	}
	for i, c := range batch {
		if prepErrs[i] != nil {
			c.done <- pipelinedResult{err: prepErrs[i]}
			continue
		}
		r := readOne(pipe)
		c.done <- r
		if r.err != nil && !isPgError(r.err) {
			// The connection broke: the rest of the batch cannot be read.
			for _, rest := range batch[i+1:] {
				rest.done <- pipelinedResult{err: r.err}
			}
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

package gateway

import (
	"context"
	"encoding/json"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// What each api function costs, as PostgreSQL counts it (track_functions =
// 'pl'; docs/operations/functions.md): calls and total and self time of each
// function of schema api, read with api.function_stats (the gateway role
// reads no view) every DB_STATS_INTERVAL and kept here, so that a scrape
// reads memory and never the database. One series per api function: the
// names are the schema's, never a request's, so the count stays bounded.
// The counters are the database's, not this process's: every gateway
// reports the same numbers (aggregate with max by function, not sum).

type functionStat struct {
	Function     string  `json:"function"`
	Calls        float64 `json:"calls"`
	TotalSeconds float64 `json:"total_seconds"`
	SelfSeconds  float64 `json:"self_seconds"`
}

var (
	functionCallsDesc = prometheus.NewDesc("homebase_db_function_calls_total",
		"Calls of each api function, as the database counts them (every caller's, since the last statistics reset; "+
			"read every DB_STATS_INTERVAL).", []string{"function"}, nil)
	functionSecondsDesc = prometheus.NewDesc("homebase_db_function_seconds_total",
		"Time in each api function, as the database counts it: total (with the functions it calls) and self.",
		[]string{"function", "kind"}, nil)
)

// functionStats is the collector of the last reading.
type functionStats struct {
	last atomic.Pointer[[]functionStat]
}

func (c *functionStats) Describe(ch chan<- *prometheus.Desc) {
	ch <- functionCallsDesc
	ch <- functionSecondsDesc
}

func (c *functionStats) Collect(ch chan<- prometheus.Metric) {
	p := c.last.Load()
	if p == nil {
		return
	}
	for _, f := range *p {
		ch <- prometheus.MustNewConstMetric(functionCallsDesc, prometheus.CounterValue, f.Calls, f.Function)
		ch <- prometheus.MustNewConstMetric(functionSecondsDesc, prometheus.CounterValue, f.TotalSeconds, f.Function, "total")
		ch <- prometheus.MustNewConstMetric(functionSecondsDesc, prometheus.CounterValue, f.SelfSeconds, f.Function, "self")
	}
}

// ReadFunctionStats takes one reading (on the timer below; the tests call it).
func (s *Server) ReadFunctionStats(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.StatementTimeout)
	defer cancel()
	var raw []byte
	if err := s.pool.QueryRow(ctx, "SELECT api.function_stats()").Scan(&raw); err != nil {
		return err
	}
	var list []functionStat
	if err := json.Unmarshal(raw, &list); err != nil {
		return err
	}
	s.metrics.functions.last.Store(&list)
	return nil
}

// readFunctionStatsEvery reads at start and then every DB_STATS_INTERVAL
// until ctx ends; a failed reading keeps the last one and is logged.
func (s *Server) readFunctionStatsEvery(ctx context.Context) {
	every(ctx, s.cfg.StatsInterval, func() {
		if err := s.ReadFunctionStats(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn().Err(err).Msg("reading the api functions' statistics failed")
		}
	})
}

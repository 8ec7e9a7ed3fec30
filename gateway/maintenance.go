package gateway

import (
	"context"
	"encoding/json"
	"time"
)

// maxMaintenanceRounds bounds one run: a backlog larger than this many
// batches is left for the next tick rather than keeping a connection busy.
const maxMaintenanceRounds = 100

// MaintenanceResult adds up the rounds of one run of api.maintenance.
type MaintenanceResult struct {
	Rounds            int
	Skipped           bool // another gateway (or scripts/db maintain) was running it
	ExpiredSessions   int
	ThrottleCounters  int
	OldLogs           int
	ExpiredActivities int
	OldLogins         int // auth.logins older than 13 months
}

// Maintain runs api.maintenance round after round (each round is one short
// transaction deleting at most one batch of each kind) until nothing is
// left, another instance holds the maintenance lock, or the bound is reached.
func (s *Server) Maintain(ctx context.Context) (MaintenanceResult, error) {
	var total MaintenanceResult
	for total.Rounds < maxMaintenanceRounds {
		var raw []byte
		if err := s.pool.QueryRow(ctx, "SELECT api.maintenance()").Scan(&raw); err != nil {
			return total, err
		}
		var round struct {
			Skipped           bool `json:"skipped"`
			More              bool `json:"more"`
			ExpiredSessions   int  `json:"expired_sessions"`
			ThrottleCounters  int  `json:"throttle_counters"`
			OldLogs           int  `json:"old_logs"`
			ExpiredActivities int  `json:"expired_activities"`
			OldLogins         int  `json:"old_logins"`
		}
		if err := json.Unmarshal(raw, &round); err != nil {
			return total, err
		}
		total.Rounds++
		total.Skipped = round.Skipped
		total.ExpiredSessions += round.ExpiredSessions
		total.ThrottleCounters += round.ThrottleCounters
		total.OldLogs += round.OldLogs
		total.ExpiredActivities += round.ExpiredActivities
		total.OldLogins += round.OldLogins
		if round.Skipped || !round.More {
			break
		}
	}
	return total, nil
}

// maintainEvery runs Maintain at start and then every MAINTENANCE_INTERVAL
// until ctx ends. Failures are logged and retried at the next tick: clean-up
// that waits ten minutes harms nobody.
func (s *Server) maintainEvery(ctx context.Context) {
	if s.cfg.MaintenanceInterval <= 0 {
		return
	}
	tick := time.NewTicker(s.cfg.MaintenanceInterval)
	defer tick.Stop()
	for {
		start := time.Now()
		r, err := s.Maintain(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			s.log.Warn().Err(err).Msg("maintenance failed")
		default:
			ev := s.log.Debug()
			if r.ExpiredSessions+r.ThrottleCounters+r.OldLogs+r.ExpiredActivities+r.OldLogins > 0 {
				ev = s.log.Info()
			}
			ev.Int("rounds", r.Rounds).Bool("skipped", r.Skipped).Int("expired_sessions", r.ExpiredSessions).
				Int("throttle_counters", r.ThrottleCounters).Int("old_logs", r.OldLogs).
				Int("expired_activities", r.ExpiredActivities).Int("old_logins", r.OldLogins).
				Dur("duration_ms", time.Since(start)).Msg("maintenance")
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

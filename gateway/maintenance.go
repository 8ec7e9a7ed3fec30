package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// maxMaintenanceRounds bounds one run of each part: a backlog larger than
// this many batches is left for the next tick rather than keeping a
// connection busy.
const maxMaintenanceRounds = 100

// MaintenanceParts are the clean-ups of api.maintenance, in the order a run
// takes them. Each is called on its own (its own statement and transaction
// under STATEMENT_TIMEOUT), so one that fails or times out (a thread of
// 100k replies, a lock it waits for) does not stop the others: the parts
// after it still run. Expired activities, the one that can be slow, is in
// the middle so that a failure there shows in the parts on either side.
// due_reports is no clean-up: it queues the monthly report mails that are
// due (each account's month once, after it ends in the account's zone; see
// docs/mail.md): the timer that already runs in every gateway, one at a
// time under the maintenance lock, needs no scheduler of its own. The last
// two queue too: the reminder digests due this morning in each account's
// zone (mail.queue_digests); the timer is what queues them, so
// MAINTENANCE_INTERVAL is also how late in the morning (06:00 local) a
// digest may be.
var MaintenanceParts = []string{"expired_sessions", "throttle_counters", "expired_activities", "old_logs", "old_logins",
	"old_tokens", "old_mail", "due_reports", "daily_digests", "weekly_digests"}

// MaintenanceResult adds up the rounds of one run of api.maintenance.
type MaintenanceResult struct {
	Rounds            int
	Skipped           bool // another gateway (or scripts/db maintain) was running it
	ExpiredSessions   int
	ThrottleCounters  int
	OldLogs           int
	ExpiredActivities int
	OldLogins         int      // auth.logins older than 13 months
	OldTokens         int      // mailed tokens a day past their expiry
	OldMail           int      // outbox rows done more than 30 days ago
	QueuedReports     int      // monthly report mails queued (due_reports)
	Digests           int      // reminder digests queued (daily and weekly)
	Failed            []string // the parts whose call failed (the error says why)
}

func (r *MaintenanceResult) add(part string, n int) {
	switch part {
	case "expired_sessions":
		r.ExpiredSessions += n
	case "throttle_counters":
		r.ThrottleCounters += n
	case "old_logs":
		r.OldLogs += n
	case "expired_activities":
		r.ExpiredActivities += n
	case "old_logins":
		r.OldLogins += n
	case "old_tokens":
		r.OldTokens += n
	case "old_mail":
		r.OldMail += n
	case "due_reports":
		r.QueuedReports += n
	case "daily_digests", "weekly_digests":
		r.Digests += n
	}
}

// Maintain runs each part of api.maintenance round after round (each
// round is one short transaction deleting at most one batch) until nothing
// of it is left or the bound is reached, then the next part. A part whose
// call fails is given up for this run and the next part runs; the error
// returned names every part that failed. Another instance holding the
// maintenance lock ends the run (Skipped): one round at a time across
// gateways.
func (s *Server) Maintain(ctx context.Context) (MaintenanceResult, error) {
	var total MaintenanceResult
	var errs []error
parts:
	for _, part := range MaintenanceParts {
		for rounds := 0; rounds < maxMaintenanceRounds; rounds++ {
			if ctx.Err() != nil {
				errs = append(errs, ctx.Err())
				break parts
			}
			var raw []byte
			if err := s.pool.QueryRow(ctx, "SELECT api.maintenance($1)", part).Scan(&raw); err != nil {
				total.Failed = append(total.Failed, part)
				errs = append(errs, fmt.Errorf("maintenance part %s: %w", part, err))
				break
			}
			var round struct {
				Skipped bool `json:"skipped"`
				More    bool `json:"more"`
				Deleted int  `json:"deleted"` // or queued, for the digests' parts
			}
			if err := json.Unmarshal(raw, &round); err != nil {
				total.Failed = append(total.Failed, part)
				errs = append(errs, fmt.Errorf("maintenance part %s: %w", part, err))
				break
			}
			total.Rounds++
			if round.Skipped {
				total.Skipped = true
				break parts
			}
			total.add(part, round.Deleted)
			if !round.More {
				break
			}
		}
	}
	return total, errors.Join(errs...)
}

// every runs run at once and then every interval until ctx ends (the
// maintenance, the function statistics' reading, the connection guard's
// sweep); interval <= 0: never.
func every(ctx context.Context, interval time.Duration, run func()) {
	if interval <= 0 {
		return
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		run()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// maintainEvery runs Maintain at start and then every MAINTENANCE_INTERVAL
// until ctx ends. Failures are logged and retried at the next tick: clean-up
// that waits ten minutes harms nobody, and the parts that did not fail have
// run.
func (s *Server) maintainEvery(ctx context.Context) {
	every(ctx, s.cfg.MaintenanceInterval, func() {
		start := time.Now()
		r, err := s.Maintain(ctx)
		// Stopping: a run cut short says what it did, without calling the
		// cut a failure.
		stopping := ctx.Err() != nil
		if err != nil && !stopping {
			s.log.Warn().Err(err).Strs("failed_parts", r.Failed).Msg("maintenance failed")
		}
		done := r.ExpiredSessions + r.ThrottleCounters + r.OldLogs + r.ExpiredActivities + r.OldLogins + r.OldTokens + r.OldMail +
			r.QueuedReports + r.Digests
		if !stopping || done > 0 {
			ev := s.log.Debug()
			if done > 0 {
				ev = s.log.Info()
			}
			ev.Int("rounds", r.Rounds).Bool("skipped", r.Skipped).Int("expired_sessions", r.ExpiredSessions).
				Int("throttle_counters", r.ThrottleCounters).Int("old_logs", r.OldLogs).
				Int("expired_activities", r.ExpiredActivities).Int("old_logins", r.OldLogins).
				Int("old_tokens", r.OldTokens).Int("old_mail", r.OldMail).Int("queued_reports", r.QueuedReports).Int("digests", r.Digests).
				Strs("failed_parts", r.Failed).Dur("duration_ms", time.Since(start)).Msg("maintenance")
		}
	})
}

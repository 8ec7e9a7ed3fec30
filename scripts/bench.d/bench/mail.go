package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// mail: the outbox → SMTP path (docs/mail.md) with the real sender
// (gateway/cmd/mailer, as deployed: its default batch, lease and poll) and a
// real Mailpit on loopback. (a) latency: sign-ups one at a time, each
// api.signup called as the gateway role (its commit queues the confirmation
// and NOTIFYs the sender), from the call's return to Mailpit's receipt of
// the mail; (b) throughput: confirmations queued in one transaction, from
// its commit until Mailpit has received the last of them.
type mail struct {
	db             string
	signups, burst int
}

func mailSettings() (benchmark, error) {
	m := &mail{}
	if err := readInts(
		intSpec{&m.signups, "BENCH_MAIL_SIGNUPS", 200, 1},
		intSpec{&m.burst, "BENCH_MAIL_BURST", 1000, 1},
	); err != nil {
		return nil, err
	}
	var err error
	m.db, err = dbName()
	return m, err
}

func (m *mail) plan() plan {
	return plan{Databases: []string{m.db}, Build: []string{"mailer"}, Mailpit: true,
		Ports: []string{"smtp", "mailpit", "mailer"}, Connections: 1}
}

// mailpitSummary is what Mailpit's /api/v1/messages says of each message.
type mailpitSummary struct {
	To      []struct{ Address string }
	Created time.Time // when Mailpit received it (millisecond precision)
}

type mailpitList struct {
	Total    int
	Messages []mailpitSummary
}

func (m *mail) run(ctx context.Context, h *env) error {
	if h.mailpit == "" || h.mailer == "" {
		return fmt.Errorf("BENCH_MAILPIT and BENCH_MAILER_URL are not set: run scripts/bench mail")
	}
	var ss servers
	defer ss.stopAll(10 * time.Second)
	smtp, ui, health := h.ports[0], h.ports[1], h.ports[2]
	api := fmt.Sprintf("http://127.0.0.1:%d/api/v1/", ui)

	// Every sign-up runs bcrypt and counts against bcrypt_ip: the limit is
	// raised on this database only (as tests/scripts/faults.sh does).
	owner, err := pgx.Connect(ctx, h.owner)
	if err != nil {
		return err
	}
	defer owner.Close(context.Background())
	if _, err := owner.Exec(ctx, "UPDATE auth.rate_limits SET max_hits = 1000000 WHERE name = 'bcrypt_ip'"); err != nil {
		return err
	}

	// Mailpit keeps every message (--max 0: its default drops all but the newest 500).
	mp, err := startCommand("Mailpit", ui, filepath.Join(h.dir, "mailpit.log"), exec.Command(h.mailpit,
		"--smtp", fmt.Sprintf("127.0.0.1:%d", smtp), "--listen", fmt.Sprintf("127.0.0.1:%d", ui),
		"--max", "0", "--disable-version-check", "--quiet"))
	if err != nil {
		return err
	}
	ss.add(mp)
	if err := mp.waitReady(ctx, "/api/v1/info", nil, "Version"); err != nil {
		return err
	}
	sender, err := startServer("mail sender", filepath.Join(h.bin, "mailer"), health, filepath.Join(h.dir, "mailer.log"),
		"MAILER_DATABASE_URL="+h.mailer, fmt.Sprintf("SMTP_URL=smtp://127.0.0.1:%d?starttls=none", smtp),
		fmt.Sprintf("MAILER_HEALTH_ADDR=127.0.0.1:%d", health))
	if err != nil {
		return err
	}
	ss.add(sender)
	if err := sender.waitReady(ctx, "/healthz", nil, "ok"); err != nil {
		return err
	}

	// (a) One sign-up at a time, as the gateway calls api.signup.
	gw, err := pgx.Connect(ctx, h.gateway)
	if err != nil {
		return err
	}
	defer gw.Close(context.Background())
	say("latency: %d sign-ups, one at a time (api.signup as the gateway role)", m.signups)
	committed := map[string]time.Time{}
	for i := 1; i <= m.signups; i++ {
		name := fmt.Sprintf("mail_%d", i)
		var answer string
		if err := gw.QueryRow(ctx, `SELECT api.signup(ROW(NULL::text, 'bench/1.0', '127.0.0.1', $1::text, NULL, NULL), $2, $3, 'bench-password', NULL)::text`,
			"bench-mail-"+strconv.Itoa(i), name, name+"@bench.example").Scan(&answer); err != nil {
			return err
		}
		committed[name+"@bench.example"] = time.Now()
		if !strings.Contains(answer, `"account"`) {
			return fmt.Errorf("api.signup answered %.300s", answer)
		}
	}
	list, err := waitMailpit(ctx, api, m.signups, time.Minute)
	if err != nil {
		return err
	}
	var latencies []float64
	for _, msg := range list.Messages {
		if len(msg.To) == 1 {
			if t, ok := committed[msg.To[0].Address]; ok {
				latencies = append(latencies, float64(msg.Created.Sub(t).Microseconds())/1000)
				delete(committed, msg.To[0].Address)
			}
		}
	}
	if len(committed) > 0 || len(latencies) != m.signups {
		return fmt.Errorf("%d sign-ups, %d mails in Mailpit for them", m.signups, len(latencies))
	}

	// (b) A burst: accounts inserted as the owner (one bcrypt hash for all),
	// then one transaction queuing a confirmation for each, through the
	// function sign-up uses (mail.queue_confirmation: a token, the outbox
	// row, the NOTIFY at commit).
	say("throughput: %d confirmations queued in one transaction", m.burst)
	if _, err := owner.Exec(ctx, `INSERT INTO auth.accounts (username, email, password_hash)
	    SELECT 'burst_' || i, 'burst_' || i || '@bench.example', (SELECT password_hash FROM auth.accounts WHERE username = 'mail_1')
	      FROM generate_series(1, $1::int) AS i`, m.burst); err != nil {
		return err
	}
	tx, err := owner.Begin(ctx)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `SELECT count(mail.queue_confirmation(a, a.email::text)) FROM auth.accounts a WHERE a.username LIKE 'burst\_%'`); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	t0 := time.Now()
	if list, err = waitMailpit(ctx, api, m.signups+m.burst, 5*time.Minute); err != nil {
		return err
	}
	last := list.Messages[0].Created // newest first
	var unsent int
	for i := 0; i < 50; i++ { // the last marks land a moment after the last mail
		if err := owner.QueryRow(ctx, "SELECT count(*) FROM mail.outbox WHERE sent_at IS NULL").Scan(&unsent); err != nil {
			return err
		}
		if unsent == 0 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if unsent != 0 || list.Total != m.signups+m.burst {
		return fmt.Errorf("after the burst: %d mails in Mailpit (want %d), %d outbox rows not marked sent", list.Total, m.signups+m.burst, unsent)
	}
	seconds := last.Sub(t0).Seconds()
	cpu, err := sender.cpuTicks()
	if err != nil {
		return err
	}

	fmt.Printf("\nmail: one sender (gateway/cmd/mailer: batches of 10 on one SMTP connection each, LISTEN/NOTIFY) delivering to Mailpit on loopback\n")
	fmt.Printf("latency: %d sign-ups one at a time (api.signup as the gateway role), from the call's return (its commit) to Mailpit's receipt (ms precision)\n", m.signups)
	fmt.Printf("throughput: %d confirmations queued in one transaction, from its commit to Mailpit's receipt of the last; %.1fs; the sender's CPU over the run %.2fs\n\n",
		m.burst, seconds, float64(cpu)/clockTicks)
	fmt.Printf("mail latency p50 = %.1f ms, p99 = %.1f ms\n", percentile(latencies, 0.50), percentile(latencies, 0.99))
	fmt.Printf("mail throughput = %.0f mails/s\n", ratio(float64(m.burst), seconds))
	return nil
}

// waitMailpit waits until Mailpit holds n messages (polling every 50 ms, at
// most within), and answers the newest n.
func waitMailpit(ctx context.Context, api string, n int, within time.Duration) (mailpitList, error) {
	var list mailpitList
	deadline := time.Now().Add(within)
	for {
		if err := getJSON(ctx, api+"messages?limit=1", &list); err != nil {
			return list, err
		}
		if list.Total >= n {
			break
		}
		if time.Now().After(deadline) {
			return list, fmt.Errorf("Mailpit holds %d mails after %s, want %d", list.Total, within, n)
		}
		select {
		case <-ctx.Done():
			return list, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return list, getJSON(ctx, api+"messages?limit="+strconv.Itoa(n), &list)
}

func getJSON(ctx context.Context, u string, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(into)
}

// Package mailer is the mail sender (gateway/cmd/mailer): it delivers the
// rows of the outbox (mail.outbox, sql/migrations/014_mail_outbox.sql) over
// SMTP, logged in as the role mailer, which may call the functions of
// schema sender and nothing else (sql/code/mail.sql). docs/mail.md tells
// how mail flows.
//
// One loop: claim a batch (sender.claim: FOR UPDATE SKIP LOCKED, a lease),
// render each mail (render.go), send the batch on one SMTP connection, mark
// each mail sent or failed (sender.mark_sent, sender.mark_failed: a 4xx or a
// network error is tried again later, a 5xx gives up), and claim again
// until nothing is due. Then wait for a NOTIFY on mail_outbox (LISTEN on a
// direct connection: PgBouncer's transaction pooling cannot carry it) or
// the poll interval, whichever comes first. Several senders may run: the
// claim's SKIP LOCKED and lease keep them off each other's mails.
package mailer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
	gomail "github.com/wneessen/go-mail"

	"homebase/gateway"
)

// Mailer is one sender.
type Mailer struct {
	cfg   Config
	pool  *pgxpool.Pool
	tmpl  *Templates
	log   zerolog.Logger
	wake  chan struct{}
	okAt  atomic.Int64 // unix nanoseconds of the last claim that reached the database
	stats struct {
		sent, failed, gaveUp                       prometheus.Counter // this process's
		queued, sentInTable, failedInTable, oldest prometheus.Gauge   // the outbox's (sender.stats)
	}
	registry *prometheus.Registry
}

// New opens the pool (as MAILER_DATABASE_URL) and parses the templates.
func New(ctx context.Context, cfg Config, log zerolog.Logger) (*Mailer, error) {
	pc, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("MAILER_DATABASE_URL: %w", err)
	}
	pc.MaxConns = 2
	if cfg.DatabasePasswordFile != "" {
		pc.BeforeConnect = gateway.PasswordFileHook(cfg.DatabasePasswordFile)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, err
	}
	tmpl, err := LoadTemplates()
	if err != nil {
		pool.Close()
		return nil, err
	}
	m := &Mailer{cfg: cfg, pool: pool, tmpl: tmpl, log: log, wake: make(chan struct{}, 1), registry: prometheus.NewRegistry()}
	counter := func(name, help string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
		m.registry.MustRegister(c)
		return c
	}
	gauge := func(name, help string) prometheus.Gauge {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
		m.registry.MustRegister(g)
		return g
	}
	m.stats.sent = counter("mailer_sent_total", "Mails this sender handed to the SMTP server.")
	m.stats.failed = counter("mailer_attempts_failed_total", "Attempts of this sender that failed (each is retried or given up).")
	m.stats.gaveUp = counter("mailer_given_up_total", "Mails this sender gave up on (a permanent SMTP error, or the last attempt).")
	m.stats.queued = gauge("mail_outbox_queued", "Mails waiting in the outbox (due or not).")
	m.stats.sentInTable = gauge("mail_outbox_sent", "Sent mails still in the outbox.")
	m.stats.failedInTable = gauge("mail_outbox_failed", "Mails in the outbox that were given up.")
	m.stats.oldest = gauge("mail_outbox_oldest_queued_seconds", "Age of the oldest waiting mail (0 when none waits).")
	return m, nil
}

// Close closes the pool.
func (m *Mailer) Close() { m.pool.Close() }

// Run sends until ctx ends: the health server, the listener, the loop.
func (m *Mailer) Run(ctx context.Context) error {
	srv := &http.Server{Addr: m.cfg.HealthAddr, Handler: m.Handler(), ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() {
		if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("MAILER_HEALTH_ADDR %s: %w", m.cfg.HealthAddr, err)
		}
	}()
	defer srv.Close()
	go m.listen(ctx)
	m.log.Info().Str("smtp", fmt.Sprintf("%s:%d", m.cfg.SMTP.Host, m.cfg.SMTP.Port)).Str("health", m.cfg.HealthAddr).
		Msg("mail sender started")
	for {
		m.Drain(ctx)
		select {
		case <-ctx.Done():
			return nil
		case err := <-errc:
			return err
		case <-m.wake:
		case <-time.After(m.cfg.PollInterval):
		}
	}
}

// Handler serves /healthz (200 while the last claim reached the database
// within three poll intervals, at least 30 s; else 503) and /metrics.
func (m *Mailer) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		limit := max(3*m.cfg.PollInterval, 30*time.Second)
		if last := m.okAt.Load(); last == 0 || time.Since(time.Unix(0, last)) > limit {
			http.Error(w, "the outbox has not been reached lately", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("/metrics", promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{}))
	return mux
}

// listen wakes the loop on each NOTIFY mail_outbox, on its own connection
// (MAILER_LISTEN_DATABASE_URL), reconnecting after a pause when it drops;
// the poll interval covers the time it is down.
func (m *Mailer) listen(ctx context.Context) {
	for ctx.Err() == nil {
		err := m.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		m.log.Warn().Err(err).Msg("LISTEN mail_outbox lost; polling until it is back")
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Second):
		}
	}
}

func (m *Mailer) listenOnce(ctx context.Context) error {
	cc, err := pgx.ParseConfig(m.cfg.ListenURL)
	if err != nil {
		return err
	}
	if m.cfg.DatabasePasswordFile != "" {
		pw, err := gateway.ReadPasswordFile(m.cfg.DatabasePasswordFile)
		if err != nil {
			return err
		}
		cc.Password = pw
	}
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN mail_outbox"); err != nil {
		return err
	}
	m.poke() // mails queued while nobody listened
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		m.poke()
	}
}

func (m *Mailer) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// outboxRow is one claimed mail (sender.claim's columns).
type outboxRow struct {
	ID        int64
	Kind      string
	Recipient string
	Data      json.RawMessage
	Attempt   int32
	CreatedAt time.Time
}

// Drain claims and sends until no mail is due, then refreshes the gauges.
// Errors are logged: the next round tries again.
func (m *Mailer) Drain(ctx context.Context) {
	for ctx.Err() == nil {
		rows, err := m.claim(ctx)
		if err != nil {
			m.log.Error().Err(err).Msg("claiming mail failed")
			return
		}
		m.okAt.Store(time.Now().UnixNano())
		if len(rows) == 0 {
			break
		}
		m.sendBatch(ctx, rows)
	}
	var queued, sent, failed int64
	var oldest float64
	if err := m.pool.QueryRow(ctx, "SELECT queued, sent, failed, oldest_queued_seconds FROM sender.stats()").
		Scan(&queued, &sent, &failed, &oldest); err == nil {
		m.stats.queued.Set(float64(queued))
		m.stats.sentInTable.Set(float64(sent))
		m.stats.failedInTable.Set(float64(failed))
		m.stats.oldest.Set(oldest)
	}
}

func (m *Mailer) claim(ctx context.Context) ([]outboxRow, error) {
	rows, err := m.pool.Query(ctx, "SELECT id, kind, recipient, data, attempt, created_at FROM sender.claim($1, $2)",
		m.cfg.BatchSize, m.cfg.Lease)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[outboxRow])
}

// sendBatch sends the claimed mails on one SMTP connection and marks each.
// Stopping (ctx done) sends no further mail of the batch, but still marks
// what was sent: a mail sent and not marked would go again after its lease.
// The unsent rest waits for its lease to end.
func (m *Mailer) sendBatch(ctx context.Context, rows []outboxRow) {
	mctx := context.WithoutCancel(ctx)
	msgs := make([]*gomail.Msg, len(rows))
	for i, r := range rows {
		msg, err := m.message(r)
		if err != nil { // no template, broken data: no attempt will do better
			m.markFailed(mctx, r, err, true)
			continue
		}
		msgs[i] = msg
	}
	client, err := m.client()
	if err == nil {
		dctx, cancel := context.WithTimeout(ctx, m.cfg.SMTP.Timeout)
		err = client.DialWithContext(dctx)
		cancel()
	}
	if err != nil {
		for i, r := range rows {
			if msgs[i] != nil {
				m.markFailed(mctx, r, fmt.Errorf("connecting to the SMTP server: %w", err), false)
			}
		}
		return
	}
	defer func() { _ = client.Close() }()
	for i, r := range rows {
		if msgs[i] == nil {
			continue
		}
		if ctx.Err() != nil {
			return
		}
		if err := client.Send(msgs[i]); err != nil {
			m.markFailed(mctx, r, err, permanent(err))
			continue
		}
		m.stats.sent.Inc()
		if _, err := m.pool.Exec(mctx, "SELECT sender.mark_sent($1, $2)", r.ID, r.Attempt); err != nil {
			// Sent, not marked: the lease ends and it goes again, with the same Message-ID.
			m.log.Error().Err(err).Int64("outbox_id", r.ID).Msg("marking a sent mail failed")
			continue
		}
		m.log.Info().Int64("outbox_id", r.ID).Str("kind", r.Kind).Int32("attempt", r.Attempt).Msg("mail sent")
	}
}

// permanent: the server refused with a 5xx (no such mailbox, policy). Any
// other failure (a 4xx, a dropped connection, a timeout) is tried again.
func permanent(err error) bool {
	var se *gomail.SendError
	return errors.As(err, &se) && se.ErrorCode() >= 500 && se.ErrorCode() < 600
}

func (m *Mailer) markFailed(ctx context.Context, r outboxRow, cause error, perm bool) {
	m.stats.failed.Inc()
	var outcome string
	err := m.pool.QueryRow(ctx, "SELECT sender.mark_failed($1, $2, $3, $4)", r.ID, r.Attempt, oneLine(cause.Error()), perm).
		Scan(&outcome)
	if err != nil {
		m.log.Error().Err(err).Int64("outbox_id", r.ID).Msg("marking a failed mail failed")
		return
	}
	if outcome == "gave up" {
		m.stats.gaveUp.Inc()
	}
	m.log.Warn().Int64("outbox_id", r.ID).Str("kind", r.Kind).Int32("attempt", r.Attempt).Str("outcome", outcome).
		Str("error", oneLine(cause.Error())).Msg("mail not sent")
}

// client is a go-mail client for SMTP_URL.
func (m *Mailer) client() (*gomail.Client, error) {
	s := m.cfg.SMTP
	opts := []gomail.Option{gomail.WithPort(s.Port), gomail.WithTimeout(s.Timeout), gomail.WithTLSPortPolicy(s.TLS)}
	if s.SSL {
		opts = append(opts, gomail.WithSSLPort(false))
	}
	if s.User != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover), gomail.WithUsername(s.User), gomail.WithPassword(s.Password))
	}
	return gomail.NewClient(s.Host, opts...)
}

// message is one outbox row as MIME: From MAIL_FROM, To the recipient
// (with the display name, encoded by go-mail as RFC 2047 when it is not
// plain text, so a line break in it ends no header), a Message-ID made of
// the row's id (a repeat after a crash is the same message), a text and
// an HTML part, and for a periodic mail the List-Unsubscribe headers.
func (m *Mailer) message(r outboxRow) (*gomail.Msg, error) {
	v, err := ViewOf(r.Kind, r.Recipient, r.Data, m.cfg.From.Name, m.cfg.PublicURL)
	if err != nil {
		return nil, err
	}
	if v.Site == "" {
		v.Site = m.cfg.From.Address
	}
	out, err := m.tmpl.Render(r.Kind, v)
	if err != nil {
		return nil, err
	}
	msg := gomail.NewMsg()
	if err := msg.FromFormat(oneLine(m.cfg.From.Name), m.cfg.From.Address); err != nil {
		return nil, err
	}
	if err := msg.AddToFormat(oneLine(v.DisplayName), r.Recipient); err != nil {
		return nil, err
	}
	msg.Subject(out.Subject)
	_, domain, _ := strings.Cut(m.cfg.From.Address, "@")
	msg.SetMessageIDWithValue(fmt.Sprintf("outbox-%d@%s", r.ID, domain))
	msg.SetDate()
	msg.SetGenHeader(gomail.Header("Auto-Submitted"), "auto-generated")
	if v.OneClick != "" {
		// RFC 8058 one-click unsubscribe (providers honour it for an https
		// PUBLIC_URL, as production has; a local http one is still shown).
		msg.SetListUnsubscribe(v.OneClick)
		msg.SetListUnsubscribePost()
	}
	msg.SetBodyString(gomail.TypeTextPlain, out.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, out.HTML)
	for _, p := range out.Inline { // multipart/related: the HTML part shows it as cid:NAME
		err := msg.EmbedReader(p.Name, bytes.NewReader(p.Data), gomail.WithFileContentType(gomail.ContentType(p.ContentType)),
			gomail.WithFileContentID("<"+p.Name+">"))
		if err != nil {
			return nil, err
		}
	}
	for _, p := range out.Attached {
		if err := msg.AttachReader(p.Name, bytes.NewReader(p.Data), gomail.WithFileContentType(gomail.ContentType(p.ContentType))); err != nil {
			return nil, err
		}
	}
	return msg, nil
}

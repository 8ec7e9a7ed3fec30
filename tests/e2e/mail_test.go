package e2e

// Mail end to end (sql/code/api/mail.sql, the sender gateway/mailer): a real
// Mailpit, started once for the run on the ports scripts/test chose
// (TEST_MAIL_PORTS, free_ports in scripts/lib/ports.sh), and one sender
// delivering the test database's outbox to it; every mail is read back
// through Mailpit's HTTP API. One sender for the whole run: the outbox is
// the database's, so a second one would deliver the other's mails. The
// tests here do not run in parallel: TestMailRetry makes Mailpit refuse
// every mail for a while.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	gomail "github.com/wneessen/go-mail"

	"homebase/gateway/mailer"
)

// testPublicURL is where the test sender's links point.
const testPublicURL = "https://homebase.test"

// mailpit is the run's Mailpit: its API's base URL.
type mailpit struct {
	api      string
	health   string // the sender's /healthz and /metrics
	smtpPort int
}

var (
	mailOnce sync.Once
	mailErr  error
	mailRun  mailpit
	// stopMail stops Mailpit and the sender (TestMain, after the run).
	stopMail = func() {}
)

// startMail gives the run's Mailpit and sender, starting them the first time.
func startMail(t *testing.T) mailpit {
	t.Helper()
	mailOnce.Do(func() { mailRun, mailErr = launchMail() })
	if mailErr != nil {
		t.Fatal(mailErr)
	}
	return mailRun
}

func launchMail() (mailpit, error) {
	bin, ports, dbURL := os.Getenv("TEST_MAILPIT"), strings.Fields(os.Getenv("TEST_MAIL_PORTS")), os.Getenv("TEST_MAILER_DATABASE_URL")
	if bin == "" || len(ports) != 3 || dbURL == "" {
		return mailpit{}, fmt.Errorf("TEST_MAILPIT, TEST_MAIL_PORTS (three ports) and TEST_MAILER_DATABASE_URL are not set: run scripts/test e2e")
	}
	smtpPort, _ := strconv.Atoi(ports[0])
	mp := mailpit{api: "http://127.0.0.1:" + ports[1], health: "http://127.0.0.1:" + ports[2], smtpPort: smtpPort}
	mailpitProc.args = []string{bin, "--smtp", "127.0.0.1:" + ports[0], "--listen", "127.0.0.1:" + ports[1],
		"--enable-chaos", "--disable-version-check", "--quiet"}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	stopMail = func() {
		cancel()
		wg.Wait()
		mailpitDown()
	}
	if err := mailpitUp(mp); err != nil {
		return mp, err
	}
	cfg := mailer.Config{
		DatabaseURL: dbURL, ListenURL: dbURL,
		SMTP:         mailer.SMTPConfig{Host: "127.0.0.1", Port: smtpPort, TLS: gomail.NoTLS, Timeout: 5 * time.Second},
		From:         &mail.Address{Name: "Homebase tests", Address: "tests@homebase.test"},
		PublicURL:    testPublicURL,
		HealthAddr:   "127.0.0.1:" + ports[2],
		PollInterval: 250 * time.Millisecond, BatchSize: 10, Lease: 30 * time.Second,
	}
	m, err := mailer.New(ctx, cfg, zerolog.New(os.Stderr).Level(zerolog.ErrorLevel))
	if err != nil {
		return mp, fmt.Errorf("the sender: %w", err)
	}
	wg.Go(func() {
		defer m.Close()
		if err := m.Run(ctx); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: the sender:", err)
		}
	})
	if !waitOK(mp.health+"/healthz", 15*time.Second) {
		return mp, fmt.Errorf("the sender's /healthz on %s did not answer 200", mp.health)
	}
	return mp, nil
}

// mailpitProc is the Mailpit process of the run; TestMailSMTPDown stops
// and starts it again on the same ports (it loses the mails it held).
var mailpitProc struct {
	sync.Mutex
	args []string
	cmd  *exec.Cmd
}

func mailpitUp(mp mailpit) error {
	mailpitProc.Lock()
	defer mailpitProc.Unlock()
	if mailpitProc.cmd != nil {
		return nil
	}
	cmd := exec.Command(mailpitProc.args[0], mailpitProc.args[1:]...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting Mailpit: %w", err)
	}
	mailpitProc.cmd = cmd
	if !waitOK(mp.api+"/api/v1/info", 15*time.Second) {
		return fmt.Errorf("Mailpit on %s did not answer", mp.api)
	}
	return nil
}

func mailpitDown() {
	mailpitProc.Lock()
	defer mailpitProc.Unlock()
	if mailpitProc.cmd != nil {
		_ = mailpitProc.cmd.Process.Kill()
		_ = mailpitProc.cmd.Wait()
		mailpitProc.cmd = nil
	}
}

func waitOK(u string, within time.Duration) bool {
	for end := time.Now().Add(within); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if r, err := http.Get(u); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return true
			}
		}
	}
	return false
}

// mailAddr is an address as Mailpit's API gives it.
type mailAddr struct{ Name, Address string }

// message is one mail as Mailpit's /api/v1/message/{ID} gives it.
type message struct {
	ID, MessageID, Subject, Text, HTML string
	From                               mailAddr
	To, Cc, Bcc                        []mailAddr
}

func (mp mailpit) get(t *testing.T, path string, into any) {
	t.Helper()
	r, err := http.Get(mp.api + path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	if r.StatusCode != 200 {
		t.Fatalf("Mailpit GET %s: %d %s", path, r.StatusCode, b)
	}
	if err := json.Unmarshal(b, into); err != nil {
		t.Fatalf("Mailpit GET %s: %v", path, err)
	}
}

// to is every mail Mailpit holds for exactly this address, oldest first.
func (mp mailpit) to(t *testing.T, addr string) []message {
	t.Helper()
	var found struct {
		Messages []struct {
			ID string
			To []mailAddr
		}
	}
	mp.get(t, "/api/v1/search?limit=50&query="+url.QueryEscape("to:"+addr), &found)
	var out []message
	for i := len(found.Messages) - 1; i >= 0; i-- { // newest first from Mailpit
		s := found.Messages[i]
		if len(s.To) == 1 && strings.EqualFold(s.To[0].Address, addr) {
			var m message
			mp.get(t, "/api/v1/message/"+s.ID, &m)
			out = append(out, m)
		}
	}
	return out
}

// waitMail waits (20 s at most) until n mails have come for the address, and gives them.
func (mp mailpit) waitMail(t *testing.T, addr string, n int) []message {
	t.Helper()
	start := time.Now()
	for {
		got := mp.to(t, addr)
		if len(got) >= n {
			t.Logf("%d mail(s) for %s within %s", len(got), addr, time.Since(start).Round(time.Millisecond))
			return got
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("%d mail(s) for %s after 20 s, want %d", len(got), addr, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// headers are the raw headers of a mail.
func (mp mailpit) headers(t *testing.T, id string) map[string][]string {
	t.Helper()
	h := map[string][]string{}
	mp.get(t, "/api/v1/message/"+id+"/headers", &h)
	return h
}

// chaos makes Mailpit answer every RCPT TO with 451 (on) or never (off).
func (mp mailpit) chaos(t *testing.T, on bool) {
	t.Helper()
	p := 0
	if on {
		p = 100
	}
	body := fmt.Sprintf(`{"Recipient": {"ErrorCode": 451, "Probability": %d}}`, p)
	rq, _ := http.NewRequest("PUT", mp.api+"/api/v1/chaos", strings.NewReader(body))
	rq.Header.Set("Content-Type", "application/json")
	r, err := http.DefaultClient.Do(rq)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 200 {
		t.Fatalf("Mailpit PUT /api/v1/chaos: %d", r.StatusCode)
	}
}

var linkRE = regexp.MustCompile(regexp.QuoteMeta(testPublicURL) + `/(confirm-email|reset-password)\?token=([A-Za-z0-9_-]{43})`)

// mailToken is the token of the mail's link to the page, in both parts.
func mailToken(t *testing.T, m message, page string) string {
	t.Helper()
	text := linkRE.FindStringSubmatch(m.Text)
	html := linkRE.FindStringSubmatch(m.HTML)
	if text == nil || html == nil || text[1] != page || html[2] != text[2] {
		t.Fatalf("mail %q: no %s link in both parts:\n%s\n%s", m.Subject, page, m.Text, m.HTML)
	}
	return text[2]
}

// outboxRow is the outbox row of a mail by its Message-ID (outbox-<id>@…).
func outboxRow(t *testing.T, m message) (id int64, sent bool, hasToken bool, attempts int) {
	t.Helper()
	local, _, ok := strings.Cut(m.MessageID, "@")
	if !ok || !strings.HasPrefix(local, "outbox-") {
		t.Fatalf("Message-ID %q is not outbox-<id>@…", m.MessageID)
	}
	id, err := strconv.ParseInt(strings.TrimPrefix(local, "outbox-"), 10, 64)
	if err != nil {
		t.Fatalf("Message-ID %q: %v", m.MessageID, err)
	}
	// The sender marks the row sent in its own transaction once the SMTP
	// server has taken the mail, which Mailpit may show a moment before:
	// a row still unsent is read again for up to 10 s.
	for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		err = owner.QueryRow(context.Background(),
			"SELECT sent_at IS NOT NULL, data ? 'token', attempts FROM mail.outbox WHERE id = $1", id).Scan(&sent, &hasToken, &attempts)
		if err != nil {
			t.Fatalf("outbox row %d: %v", id, err)
		}
		if sent || time.Since(start) > 10*time.Second {
			return id, sent, hasToken, attempts
		}
	}
}

func TestMailSignupConfirmation(t *testing.T) {
	mp := startMail(t)
	g := startGateway(t, nil)
	u := g.signup(t)
	tok := g.login(t, u, "ua")
	s := g.do(req{Method: "GET", Path: "/session", Token: tok, UA: "ua"})
	if a := obj(t, s.JSON(t), "account"); a["email_confirmed_at"] != nil || a["pending_email"] != nil {
		t.Fatalf("a new account: %v, want unconfirmed and nothing pending", a)
	}

	m := mp.waitMail(t, u.Email, 1)[0]
	if m.Subject != "Confirm your e-mail address" || m.From.Address != "tests@homebase.test" {
		t.Fatalf("mail %q from %v", m.Subject, m.From)
	}
	h := mp.headers(t, m.ID)
	if got := h["Auto-Submitted"]; len(got) != 1 || got[0] != "auto-generated" {
		t.Fatalf("Auto-Submitted %v", got)
	}
	token := mailToken(t, m, "confirm-email")
	g.secrets.add(token)
	if _, sent, hasToken, _ := outboxRow(t, m); !sent || hasToken {
		t.Fatalf("the sent mail's outbox row: sent %v, still holds the token %v", sent, hasToken)
	}

	r := g.do(req{Method: "POST", Path: "/email-confirmations", Body: map[string]any{"token": token}})
	expect(t, r, 200, "")
	a := obj(t, r.JSON(t), "account")
	expectAccount(t, a, u)
	timestamp(t, a["email_confirmed_at"])
	r = g.do(req{Method: "POST", Path: "/email-confirmations", Body: map[string]any{"token": token}})
	expect(t, r, 400, "INVALID_TOKEN")
	expectErrorBody(t, r)
	expect(t, g.do(req{Method: "POST", Path: "/email-confirmations", Body: map[string]any{"token": strings.Repeat("x", 65)}}),
		400, "INVALID_TOKEN")
	expect(t, g.do(req{Method: "POST", Path: "/email-confirmations", Body: map[string]any{}}), 422, "VALIDATION")
	// Confirmed: nothing waits any more.
	expect(t, g.do(req{Method: "POST", Path: "/account/email-confirmation", Token: tok, UA: "ua"}), 409, "CONFLICT")
	g.secrets.checkAuditLog(t)
}

func TestMailResendConfirmation(t *testing.T) {
	mp := startMail(t)
	g := startGateway(t, nil)
	u := g.signup(t)
	tok := g.login(t, u, "ua")
	expect(t, g.do(req{Method: "POST", Path: "/account/email-confirmation", UA: "ua"}), 401, "UNAUTHENTICATED")
	r := g.do(req{Method: "POST", Path: "/account/email-confirmation", Token: tok, UA: "ua"})
	expect(t, r, 202, "")
	mails := mp.waitMail(t, u.Email, 2)
	first, second := mailToken(t, mails[0], "confirm-email"), mailToken(t, mails[1], "confirm-email")
	if mails[0].MessageID == mails[1].MessageID {
		t.Fatalf("two mails, one Message-ID %s", mails[0].MessageID)
	}
	expect(t, g.do(req{Method: "POST", Path: "/email-confirmations", Body: map[string]any{"token": first}}), 400, "INVALID_TOKEN")
	expect(t, g.do(req{Method: "POST", Path: "/email-confirmations", Body: map[string]any{"token": second}}), 200, "")
}

func TestMailPasswordReset(t *testing.T) {
	mp := startMail(t)
	g := startGateway(t, nil)
	u := g.signup(t)
	laptop, phone := g.login(t, u, "laptop"), g.login(t, u, "phone")
	ask := func(email, ip string) resp {
		return g.do(req{Method: "POST", Path: "/password-resets", IP: ip, Body: map[string]any{"email": email}})
	}

	ip := uniqueIP()
	known := ask(strings.ToUpper(u.Email), ip)
	unknown := ask(unique("nobody-")+"@example.com", ip)
	expect(t, known, 202, "")
	expect(t, unknown, 202, "")
	if string(known.Body) != string(unknown.Body) {
		t.Fatalf("a known address answers %s, an unknown one %s", known.Body, unknown.Body)
	}
	expect(t, ask("not an address", ip), 422, "VALIDATION")

	mails := mp.waitMail(t, u.Email, 2) // the confirmation, then the reset
	m := mails[1]
	if m.Subject != "Reset your password" {
		t.Fatalf("mail %q, want the reset", m.Subject)
	}
	token := mailToken(t, m, "reset-password")
	g.secrets.add(token)

	reset := func(body map[string]any) resp {
		return g.do(req{Method: "PUT", Path: "/password-resets", IP: ip, Body: body})
	}
	r := reset(map[string]any{"token": token, "new_password": "short"})
	expect(t, r, 422, "VALIDATION")
	if d := details(t, r); d["new_password"] == "" {
		t.Fatalf("details %v", d)
	}
	expect(t, reset(map[string]any{"token": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "new_password": "a new password"}), 400, "INVALID_TOKEN")
	newPassword := "reset password " + unique("")
	g.secrets.add(newPassword)
	expect(t, reset(map[string]any{"token": token, "new_password": newPassword}), 204, "") // the 422 did not spend it
	for _, s := range []struct{ tok, ua string }{{laptop, "laptop"}, {phone, "phone"}} {
		expect(t, g.do(req{Method: "GET", Path: "/session", Token: s.tok, UA: s.ua}), 401, "INVALID")
	}
	expect(t, reset(map[string]any{"token": token, "new_password": "another password"}), 400, "INVALID_TOKEN")
	u.Password = newPassword
	g.login(t, u, "laptop")

	// Five requests an hour per address, known or not: the sixth is a 429.
	addr := unique("flood-") + "@example.com"
	for i := 0; i < 5; i++ {
		expect(t, ask(addr, uniqueIP()), 202, "")
	}
	r = ask(addr, uniqueIP())
	expect(t, r, 429, "RATE_LIMITED")
	if r.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	g.secrets.checkAuditLog(t)
}

func TestMailAddressChange(t *testing.T) {
	mp := startMail(t)
	g := startGateway(t, nil)
	u := g.signup(t)
	tok := g.login(t, u, "ua")
	patch := func(body map[string]any) resp {
		return g.do(req{Method: "PATCH", Path: "/account", Token: tok, UA: "ua", IP: u.IP, Body: body})
	}
	newEmail := unique("new-") + "@example.com"
	r := patch(map[string]any{"email": newEmail, "password": u.Password})
	expect(t, r, 200, "")
	if a := obj(t, r.JSON(t), "account"); a["email"] != u.Email || a["pending_email"] != newEmail {
		t.Fatalf("account %v, want the old address and the new one pending", a)
	}

	confirm := mp.waitMail(t, newEmail, 1)[0]
	if confirm.Subject != "Confirm your new e-mail address" {
		t.Fatalf("the new address got %q", confirm.Subject)
	}
	old := mp.waitMail(t, u.Email, 2) // its sign-up confirmation, then the notice
	notice := old[1]
	if notice.Subject != "Your e-mail address is about to change" || !strings.Contains(notice.Text, newEmail) ||
		linkRE.MatchString(notice.Text) || linkRE.MatchString(notice.HTML) {
		t.Fatalf("the notice to the old address: %q\n%s", notice.Subject, notice.Text)
	}
	r = g.do(req{Method: "POST", Path: "/email-confirmations", Body: map[string]any{"token": mailToken(t, confirm, "confirm-email")}})
	expect(t, r, 200, "")
	if a := obj(t, r.JSON(t), "account"); a["email"] != newEmail || a["pending_email"] != nil || a["email_confirmed_at"] == nil {
		t.Fatalf("account after following the link: %v", a)
	}
	expect(t, g.do(req{Method: "POST", Path: "/sessions", UA: "ua2", IP: u.IP,
		Body: map[string]any{"login": newEmail, "password": u.Password}}), 201, "")
	expect(t, g.do(req{Method: "POST", Path: "/sessions", UA: "ua3", IP: u.IP,
		Body: map[string]any{"login": u.Email, "password": u.Password}}), 401, "INVALID_CREDENTIALS")

	// An address taken between the request and the link: 409 at the link.
	raced := unique("raced-") + "@example.com"
	expect(t, patch(map[string]any{"email": raced, "password": u.Password}), 200, "")
	link := mailToken(t, mp.waitMail(t, raced, 1)[0], "confirm-email")
	expect(t, g.do(req{Method: "POST", Path: "/accounts", IP: uniqueIP(),
		Body: map[string]any{"username": unique("racer_"), "email": raced, "password": "racer password 1"}}), 201, "")
	expect(t, g.do(req{Method: "POST", Path: "/email-confirmations", Body: map[string]any{"token": link}}), 409, "EMAIL_TAKEN")
}

// TestMailRetry: Mailpit answers 451 to every recipient (its chaos API);
// the sender keeps the mail, counts the attempt with the error, and sends
// it once Mailpit takes mail again (the retry brought forward here instead
// of waiting out the 30 s backoff), with the Message-ID of its outbox row.
func TestMailRetry(t *testing.T) {
	mp := startMail(t)
	g := startGateway(t, nil)
	mp.chaos(t, true)
	t.Cleanup(func() { mp.chaos(t, false) })
	u := g.signup(t)

	var id int64
	var attempts int
	var lastError string
	for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		err := owner.QueryRow(context.Background(),
			`SELECT o.id, o.attempts, coalesce(o.last_error, '') FROM mail.outbox o WHERE o.account_id = $1`, int64(u.ID)).
			Scan(&id, &attempts, &lastError)
		if err != nil {
			t.Fatal(err)
		}
		if attempts >= 1 && lastError != "" {
			break
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("no failed attempt after 20 s (attempts %d)", attempts)
		}
	}
	if !strings.Contains(lastError, "451") {
		t.Fatalf("last_error %q, want Mailpit's 451", lastError)
	}
	if got := mp.to(t, u.Email); len(got) != 0 {
		t.Fatalf("%d mail(s) arrived while Mailpit refused them", len(got))
	}
	mp.chaos(t, false)
	if _, err := owner.Exec(context.Background(),
		"UPDATE mail.outbox SET available_at = now() WHERE id = $1 AND sent_at IS NULL", id); err != nil {
		t.Fatal(err)
	}
	m := mp.waitMail(t, u.Email, 1)[0]
	gotID, sent, _, n := outboxRow(t, m)
	if gotID != id || !sent || n < 2 {
		t.Fatalf("the mail came from outbox row %d (sent %v, %d attempts), want row %d, sent, at least 2 attempts", gotID, sent, n, id)
	}
	t.Logf("sent on attempt %d after: %s", n, lastError)
}

// TestMailEscaping: what a user typed is text in the HTML part, and a line
// break in a display name starts no header.
func TestMailEscaping(t *testing.T) {
	mp := startMail(t)
	g := startGateway(t, nil)
	name := "<script>alert(1)</script>\r\nBcc: eve@example.com"
	u := user{Username: unique("esc_"), Password: "escape password 1", IP: uniqueIP()}
	u.Email = u.Username + "@example.com"
	expect(t, g.do(req{Method: "POST", Path: "/accounts", IP: u.IP,
		Body: map[string]any{"username": u.Username, "email": u.Email, "password": u.Password, "display_name": name}}), 201, "")

	m := mp.waitMail(t, u.Email, 1)[0]
	if strings.Contains(m.HTML, "<script>") || !strings.Contains(m.HTML, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Fatalf("the display name is not escaped in the HTML part:\n%s", m.HTML)
	}
	if !strings.Contains(m.Text, "<script>alert(1)</script>") {
		t.Fatalf("the text part should hold the name as typed:\n%s", m.Text)
	}
	if len(m.To) != 1 || m.To[0].Address != u.Email || len(m.Cc) != 0 || len(m.Bcc) != 0 {
		t.Fatalf("recipients To %v Cc %v Bcc %v, want the account's address alone", m.To, m.Cc, m.Bcc)
	}
	h := mp.headers(t, m.ID)
	if _, ok := h["Bcc"]; ok {
		t.Fatalf("a Bcc header came through the display name: %v", h)
	}
	for k, vs := range h {
		for _, v := range vs {
			if strings.ContainsAny(v, "\r\n") {
				t.Fatalf("header %s holds a line break: %q", k, v)
			}
		}
	}
	if got := mp.to(t, "eve@example.com"); len(got) != 0 {
		t.Fatalf("the injected Bcc address got %d mail(s)", len(got))
	}
}

// TestMailerHealthAndMetrics: the sender's loopback /healthz and /metrics.
func TestMailerHealthAndMetrics(t *testing.T) {
	mp := startMail(t)
	r, err := http.Get(mp.health + "/healthz")
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("/healthz: %v %v", r, err)
	}
	r.Body.Close()
	r, err = http.Get(mp.health + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	for _, name := range []string{"mailer_sent_total", "mailer_attempts_failed_total", "mailer_given_up_total",
		"mail_outbox_queued", "mail_outbox_oldest_queued_seconds"} {
		if !regexp.MustCompile(`(?m)^` + name + ` [0-9.e+]+$`).Match(b) {
			t.Fatalf("/metrics has no %s:\n%s", name, b)
		}
	}
}

// TestMailTwoSenders: a second sender beside the run's, both woken by the
// same burst of 40 mails: SKIP LOCKED and the lease give each mail to one
// of them, so every address gets exactly one mail.
func TestMailTwoSenders(t *testing.T) {
	mp := startMail(t)
	cfg := mailer.Config{
		DatabaseURL: os.Getenv("TEST_MAILER_DATABASE_URL"), ListenURL: os.Getenv("TEST_MAILER_DATABASE_URL"),
		SMTP:         mailer.SMTPConfig{Host: "127.0.0.1", Port: mp.smtpPort, TLS: gomail.NoTLS, Timeout: 5 * time.Second},
		From:         &mail.Address{Name: "Homebase tests", Address: "tests@homebase.test"},
		PublicURL:    testPublicURL,
		HealthAddr:   "127.0.0.1:0",
		PollInterval: 250 * time.Millisecond, BatchSize: 5, Lease: 30 * time.Second,
	}
	ctx, cancel := context.WithCancel(context.Background())
	second, err := mailer.New(ctx, cfg, zerolog.New(os.Stderr).Level(zerolog.ErrorLevel))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = second.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done; second.Close() })
	time.Sleep(300 * time.Millisecond) // its LISTEN in place

	prefix := unique("two-")
	if _, err := owner.Exec(context.Background(), `
		SELECT mail.enqueue('email_change_notice', NULL, format('%s-%s@example.com', $1::text, i),
		                    jsonb_build_object('username', 'two', 'display_name', 'Two', 'new_email', 'new@example.com'),
		                    format('test:%s:%s', $1::text, i))
		  FROM generate_series(1, 40) i`, prefix); err != nil {
		t.Fatal(err)
	}
	// Every row marked sent, then what Mailpit holds: a repeat would be there by now.
	for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		var left int
		if err := owner.QueryRow(context.Background(),
			"SELECT count(*) FROM mail.outbox WHERE dedupe_key LIKE 'test:' || $1 || ':%' AND sent_at IS NULL", prefix).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left == 0 {
			break
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("%d of the 40 mails unsent after 20 s", left)
		}
	}
	var found struct {
		Total    int
		Messages []struct {
			MessageID string
			To        []mailAddr
		}
	}
	mp.get(t, "/api/v1/search?limit=200&query="+url.QueryEscape("to:"+prefix+"-"), &found)
	per, ids := map[string]int{}, map[string]bool{}
	for _, m := range found.Messages {
		for _, to := range m.To {
			per[to.Address]++
		}
		ids[m.MessageID] = true
	}
	for i := 1; i <= 40; i++ {
		if addr := fmt.Sprintf("%s-%d@example.com", prefix, i); per[addr] != 1 {
			t.Fatalf("%s got %d mails, want 1", addr, per[addr])
		}
	}
	if len(found.Messages) != 40 || len(ids) != 40 {
		t.Fatalf("%d mails with %d distinct Message-IDs, want 40 of each", len(found.Messages), len(ids))
	}
	rec := httptest.NewRecorder()
	second.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	t.Logf("the second sender's count: %s", regexp.MustCompile(`(?m)^mailer_sent_total .*$`).FindString(rec.Body.String()))
}

// TestMailSMTPDown: with no SMTP server at all, the mail waits in the outbox
// (a connection error is temporary), and goes out once, when the server is
// back (the retry brought forward instead of waiting out the backoff).
func TestMailSMTPDown(t *testing.T) {
	mp := startMail(t)
	g := startGateway(t, nil)
	mailpitDown()
	t.Cleanup(func() {
		if err := mailpitUp(mp); err != nil {
			t.Fatal(err)
		}
	})
	u := g.signup(t)
	var id int64
	var attempts int
	var lastError string
	for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
		if err := owner.QueryRow(context.Background(),
			`SELECT id, attempts, coalesce(last_error, '') FROM mail.outbox WHERE account_id = $1`, int64(u.ID)).
			Scan(&id, &attempts, &lastError); err != nil {
			t.Fatal(err)
		}
		if attempts >= 1 && lastError != "" {
			break
		}
		if time.Since(start) > 20*time.Second {
			t.Fatalf("no failed attempt after 20 s (attempts %d)", attempts)
		}
	}
	if !strings.Contains(lastError, "connecting to the SMTP server") {
		t.Fatalf("last_error %q, want the refused connection", lastError)
	}
	if err := mailpitUp(mp); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.Exec(context.Background(),
		"UPDATE mail.outbox SET available_at = now() WHERE id = $1 AND sent_at IS NULL", id); err != nil {
		t.Fatal(err)
	}
	m := mp.waitMail(t, u.Email, 1)
	if gotID, sent, _, _ := outboxRow(t, m[0]); gotID != id || !sent {
		t.Fatalf("the mail came from row %d (sent %v), want row %d, sent", gotID, sent, id)
	}
	if n := len(mp.to(t, u.Email)); n != 1 {
		t.Fatalf("%d mails after the server came back, want 1", n)
	}
	t.Logf("held through: %s", lastError)
}

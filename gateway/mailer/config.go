package mailer

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"homebase/gateway"
)

// Config is the sender's environment (docs/configuration.md, "The mail sender").
type Config struct {
	DatabaseURL          string // MAILER_DATABASE_URL: as the role mailer, through PgBouncer or directly
	ListenURL            string // MAILER_LISTEN_DATABASE_URL: a direct connection for LISTEN (default: DatabaseURL)
	DatabasePasswordFile string // MAILER_DATABASE_PASSWORD_FILE
	SMTP                 SMTPConfig
	From                 *mail.Address // MAIL_FROM
	PublicURL            string        // PUBLIC_URL: where the mails' links point
	HealthAddr           string        // MAILER_HEALTH_ADDR: /healthz and /metrics
	PollInterval         time.Duration // MAILER_POLL_INTERVAL: the fallback when no NOTIFY comes
	BatchSize            int           // MAILER_BATCH_SIZE: mails claimed (and sent on one SMTP connection) at once
	Lease                time.Duration // MAILER_LEASE: how long a claimed mail is this sender's
	LogLevel, LogFormat  string
}

// SMTPConfig is SMTP_URL, SMTP_PASSWORD_FILE and SMTP_TIMEOUT.
type SMTPConfig struct {
	Host     string
	Port     int
	TLS      gomail.TLSPolicy // STARTTLS: mandatory unless ?starttls=opportunistic or none (loopback only)
	SSL      bool             // smtps://: TLS from the first byte
	User     string
	Password string
	Timeout  time.Duration
}

// Defaults: a local Mailpit (scripts/run starts one) and a local gateway.
const (
	DefaultSMTPURL    = "smtp://127.0.0.1:1025?starttls=none"
	DefaultFrom       = "Homebase <homebase@localhost>"
	DefaultPublicURL  = "http://127.0.0.1:8080"
	DefaultHealthAddr = "127.0.0.1:8027"
)

// ConfigFromEnv reads and checks the environment.
func ConfigFromEnv() (Config, error) {
	c := Config{
		DatabaseURL:          os.Getenv("MAILER_DATABASE_URL"),
		ListenURL:            os.Getenv("MAILER_LISTEN_DATABASE_URL"),
		DatabasePasswordFile: strings.TrimSpace(os.Getenv("MAILER_DATABASE_PASSWORD_FILE")),
		PublicURL:            env("PUBLIC_URL", DefaultPublicURL),
		HealthAddr:           env("MAILER_HEALTH_ADDR", DefaultHealthAddr),
		LogLevel:             os.Getenv("LOG_LEVEL"),
		LogFormat:            os.Getenv("LOG_FORMAT"),
	}
	if c.DatabaseURL == "" {
		return c, errors.New("MAILER_DATABASE_URL is not set (the role mailer's URL)")
	}
	if c.ListenURL == "" {
		c.ListenURL = c.DatabaseURL
	}
	var err error
	if c.SMTP, err = ParseSMTPURL(env("SMTP_URL", DefaultSMTPURL)); err != nil {
		return c, fmt.Errorf("SMTP_URL: %w", err)
	}
	if f := strings.TrimSpace(os.Getenv("SMTP_PASSWORD_FILE")); f != "" {
		if c.SMTP.Password, err = gateway.ReadPasswordFile(f); err != nil {
			return c, fmt.Errorf("SMTP_PASSWORD_FILE: %w", err)
		}
	}
	if c.From, err = mail.ParseAddress(env("MAIL_FROM", DefaultFrom)); err != nil {
		return c, fmt.Errorf("MAIL_FROM: %w", err)
	}
	if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, fmt.Errorf("PUBLIC_URL: want http(s)://host[/path], got %q", c.PublicURL)
	}
	durations := []struct {
		key, def string
		to       *time.Duration
	}{{"MAILER_POLL_INTERVAL", "10s", &c.PollInterval}, {"MAILER_LEASE", "5m", &c.Lease}, {"SMTP_TIMEOUT", "15s", &c.SMTP.Timeout}}
	for _, d := range durations {
		if *d.to, err = time.ParseDuration(env(d.key, d.def)); err != nil || *d.to <= 0 {
			return c, fmt.Errorf("%s: want a positive duration such as %s", d.key, d.def)
		}
	}
	if c.BatchSize, err = strconv.Atoi(env("MAILER_BATCH_SIZE", "10")); err != nil || c.BatchSize < 1 || c.BatchSize > 100 {
		return c, errors.New("MAILER_BATCH_SIZE: want 1 to 100")
	}
	return c, nil
}

// ParseSMTPURL reads smtp://[user@]host[:port][?starttls=mandatory|opportunistic|none]
// (port 587 by default) or smtps://[user@]host[:port] (465). A password in
// the URL is refused: it belongs in SMTP_PASSWORD_FILE, out of ps and
// of the environment. Plain text (starttls=none) only to a loopback host.
func ParseSMTPURL(s string) (SMTPConfig, error) {
	u, err := url.Parse(s)
	if err != nil {
		return SMTPConfig{}, err
	}
	c := SMTPConfig{Host: u.Hostname(), TLS: gomail.TLSMandatory}
	switch u.Scheme {
	case "smtp":
		c.Port = 587
	case "smtps":
		c.Port, c.SSL = 465, true
	default:
		return c, fmt.Errorf("want smtp:// or smtps://, got %q", u.Scheme)
	}
	if c.Host == "" {
		return c, errors.New("no host")
	}
	if p := u.Port(); p != "" {
		if c.Port, err = strconv.Atoi(p); err != nil || c.Port < 1 || c.Port > 65535 {
			return c, fmt.Errorf("bad port %q", p)
		}
	}
	if u.User != nil {
		if _, has := u.User.Password(); has {
			return c, errors.New("holds a password: put it in SMTP_PASSWORD_FILE")
		}
		c.User = u.User.Username()
	}
	switch st := u.Query().Get("starttls"); st {
	case "", "mandatory":
	case "opportunistic":
		c.TLS = gomail.TLSOpportunistic
	case "none":
		if ip := net.ParseIP(c.Host); c.Host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return c, errors.New("starttls=none sends mail (and a password) in clear: only to a loopback host")
		}
		c.TLS = gomail.NoTLS
	default:
		return c, fmt.Errorf("starttls: want mandatory, opportunistic or none, got %q", st)
	}
	return c, nil
}

func env(key, def string) string {
	if v := strings.TrimSpace(os.Getenv(key)); v != "" {
		return v
	}
	return def
}

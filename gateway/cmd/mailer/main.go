// Command mailer is the mail sender: it delivers the outbox over SMTP
// (package homebase/gateway/mailer; docs/mail.md, and its variables in
// docs/configuration.md).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"homebase/gateway"
	"homebase/gateway/mailer"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "mailer:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	cfg, err := mailer.ConfigFromEnv()
	if err != nil {
		return err
	}
	log := gateway.NewLogger(gateway.Config{LogLevel: cfg.LogLevel, LogFormat: cfg.LogFormat}, os.Stderr)
	m, err := mailer.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer m.Close()
	return m.Run(ctx)
}

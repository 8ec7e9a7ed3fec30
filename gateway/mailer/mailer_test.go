package mailer

import (
	"encoding/json"
	"strings"
	"testing"

	gomail "github.com/wneessen/go-mail"
)

// Every kind renders both parts from a row's data; what the user typed is
// text in the HTML part, and the subject is one line.
func TestRenderEveryKind(t *testing.T) {
	tmpl, err := LoadTemplates()
	if err != nil {
		t.Fatal(err)
	}
	data := json.RawMessage(`{"token": "tok-123", "username": "ann", "display_name": "<b>Ann</b>\r\nBcc: x@example.com",
		"change": true, "new_email": "new@example.com"}`)
	var report map[string]any // the report's own data (report_test.go), with the same display name
	_ = json.Unmarshal(reportData("html"), &report)
	report["display_name"] = "<b>Ann</b>\r\nBcc: x@example.com"
	reportJSON, _ := json.Marshal(report)
	for _, kind := range Kinds {
		data := data
		if kind == "monthly_report" {
			data = reportJSON
		}
		v, err := ViewOf(kind, "ann@example.com", data, "Homebase", "https://example.test/")
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		out, err := tmpl.Render(kind, v)
		if err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if out.Subject == "" || strings.ContainsAny(out.Subject, "\r\n") {
			t.Fatalf("%s: subject %q", kind, out.Subject)
		}
		if strings.Contains(out.HTML, "<b>Ann</b>") || !strings.Contains(out.HTML, "&lt;b&gt;Ann&lt;/b&gt;") {
			t.Fatalf("%s: the display name is not escaped in the HTML part:\n%s", kind, out.HTML)
		}
		if link, ok := linkPaths[kind]; ok {
			want := "https://example.test" + link + "?token=tok-123"
			if !strings.Contains(out.Text, want) || !strings.Contains(out.HTML, want) {
				t.Fatalf("%s: no link %s in both parts", kind, want)
			}
		}
	}
	if _, err := tmpl.Render("no_such_kind", View{}); err == nil {
		t.Fatal("an unknown kind rendered")
	}
	if _, err := ViewOf("password_reset", "a@example.com", json.RawMessage(`{}`), "", "https://x.test"); err == nil {
		t.Fatal("a reset mail without its token was accepted")
	}
}

func TestParseSMTPURL(t *testing.T) {
	for _, c := range []struct {
		url  string
		want SMTPConfig
	}{
		{"smtp://mail.example.com", SMTPConfig{Host: "mail.example.com", Port: 587, TLS: gomail.TLSMandatory}},
		{"smtp://app@mail.example.com:2525?starttls=opportunistic", SMTPConfig{Host: "mail.example.com", Port: 2525, User: "app", TLS: gomail.TLSOpportunistic}},
		{"smtps://mail.example.com", SMTPConfig{Host: "mail.example.com", Port: 465, SSL: true, TLS: gomail.TLSMandatory}},
		{"smtp://127.0.0.1:1025?starttls=none", SMTPConfig{Host: "127.0.0.1", Port: 1025, TLS: gomail.NoTLS}},
	} {
		got, err := ParseSMTPURL(c.url)
		if err != nil || got != c.want {
			t.Fatalf("%s: %+v, %v; want %+v", c.url, got, err, c.want)
		}
	}
	for _, bad := range []string{"smtp://user:secret@mail.example.com", "smtp://mail.example.com?starttls=none",
		"http://mail.example.com", "smtp://:25", "smtp://mail.example.com?starttls=maybe", "smtp://mail.example.com:0"} {
		if _, err := ParseSMTPURL(bad); err == nil {
			t.Fatalf("%s was accepted", bad)
		}
	}
}

// A digest lists its reminders, with what the user typed escaped in the
// HTML part; a periodic mail has its unsubscribe link in both parts and
// the RFC 8058 headers, and does not go without its token.
func TestRenderDigest(t *testing.T) {
	tmpl, err := LoadTemplates()
	if err != nil {
		t.Fatal(err)
	}
	data := json.RawMessage(`{"username": "ann", "display_name": "Ann", "period": "daily", "from": "2026-05-04",
		"until": "2026-05-05", "more": true, "unsubscribe": "digest", "unsubscribe_token": "unsub-tok",
		"reminders": [{"event_date": "2026-05-05", "event_reminder_msg": "call <Bob>", "note": "n & m",
		               "tracker": {"id": 1, "name": "<script>alert(1)</script>"}}]}`)
	v, err := ViewOf("digest", "ann@example.com", data, "Homebase", "https://example.test/")
	if err != nil {
		t.Fatal(err)
	}
	out, err := tmpl.Render("digest", v)
	if err != nil {
		t.Fatal(err)
	}
	if out.Subject != "Your reminders for today and tomorrow" {
		t.Errorf("subject %q", out.Subject)
	}
	for _, want := range []string{"2026-05-05 · <script>alert(1)</script>: call <Bob>", "n & m", "… and more",
		"Unsubscribe from these mails: https://example.test/unsubscribe?token=unsub-tok"} {
		if !strings.Contains(out.Text, want) {
			t.Errorf("text part without %q:\n%s", want, out.Text)
		}
	}
	if strings.Contains(out.HTML, "<script>") || !strings.Contains(out.HTML, "&lt;script&gt;alert(1)&lt;/script&gt;") ||
		!strings.Contains(out.HTML, "call &lt;Bob&gt;") || !strings.Contains(out.HTML, "n &amp; m") {
		t.Errorf("the HTML part does not escape what the user typed:\n%s", out.HTML)
	}
	if !strings.Contains(out.HTML, `href="https://example.test/unsubscribe?token=unsub-tok"`) {
		t.Errorf("no unsubscribe link in the HTML part:\n%s", out.HTML)
	}
	if v.OneClick != "https://example.test/api/v1/unsubscribe?token=unsub-tok" {
		t.Errorf("one-click URL %q", v.OneClick)
	}
	if _, err := ViewOf("digest", "a@example.com", json.RawMessage(`{"unsubscribe": "digest"}`), "", "https://x.test"); err == nil {
		t.Error("a periodic mail without its unsubscribe token was accepted")
	}
	if v, _ := ViewOf("password_reset", "a@example.com", json.RawMessage(`{"token": "t"}`), "", "https://x.test"); v.OneClick != "" {
		t.Error("a reset mail has an unsubscribe URL")
	}
}

package e2e

// Reminder digests and one-click unsubscribe end to end (sql/code/digests.sql,
// api.unsubscribe in sql/code/api/mail.sql, the sender's List-Unsubscribe
// headers): through the run's real Mailpit and sender (mail_test.go). Not
// parallel, like the other mail tests.

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"regexp"
	"strings"
	"testing"
	"time"
)

// morningZone is an IANA zone (Etc/GMT±N) where it is about 08:00 now, so
// that the timer's run finds the account's morning.
func morningZone(now time.Time) string {
	o := 8 - now.UTC().Hour() // local = UTC + o hours
	if o < -12 {
		o += 24
	}
	switch {
	case o > 0:
		return fmt.Sprintf("Etc/GMT-%d", o) // the POSIX sign: Etc/GMT-9 is UTC+9
	case o < 0:
		return fmt.Sprintf("Etc/GMT+%d", -o)
	}
	return "Etc/GMT"
}

var unsubscribeRE = regexp.MustCompile(regexp.QuoteMeta(testPublicURL) + `/unsubscribe\?token=([A-Za-z0-9_-]{43})`)

// A confirmed account with notification daily and a reminder due tomorrow
// in its zone gets, when the timer's digest part runs in its morning, one
// digest listing it, with the one-click unsubscribe headers; posting that
// URL's form turns the digests off (the preferences show it), posting again
// is still a success, a forged token is a 400, and a GET does nothing.
func TestDigestAndUnsubscribe(t *testing.T) {
	ctx := context.Background()
	mp := startMail(t)
	g := startGateway(t, nil)
	u := g.signup(t)
	tok := g.login(t, u, "ua")
	call := func(method, path string, body any) resp {
		return g.do(req{Method: method, Path: path, Token: tok, UA: "ua", Body: body})
	}
	mp.waitMail(t, u.Email, 1) // the sign-up's confirmation
	if _, err := owner.Exec(ctx, "UPDATE auth.accounts SET email_confirmed_at = now() WHERE id = $1", int64(u.ID)); err != nil {
		t.Fatal(err)
	}
	zone := morningZone(time.Now())
	expect(t, call("PUT", "/account/preferences", map[string]any{"notification": "daily", "report_format": "html", "timezone": zone}), 200, "")
	var tomorrow string
	if err := owner.QueryRow(ctx, "SELECT ((now() AT TIME ZONE $1)::date + 1)::text", zone).Scan(&tomorrow); err != nil {
		t.Fatal(err)
	}
	name := "<script>alert(1)</script> " + unique("plants")
	r := call("POST", "/trackers", map[string]any{"name": name, "type": "note"})
	expect(t, r, 201, "")
	tracker := obj(t, r.JSON(t), "tracker")["id"].(float64)
	expect(t, call("POST", fmt.Sprintf("/trackers/%d/logs", int64(tracker)),
		map[string]any{"note": "repot & feed", "event_reminder_msg": "water them", "event_date": tomorrow}), 201, "")

	// The timer's part, as the gateway calls it (gateway/maintenance.go;
	// "deleted" counts the mails it queued).
	var queued int
	if err := owner.QueryRow(ctx, "SELECT (api.maintenance('daily_digests') ->> 'deleted')::int").Scan(&queued); err != nil {
		t.Fatal(err)
	}
	t.Logf("zone %s, tomorrow there %s: the daily part queued %d digest(s)", zone, tomorrow, queued)
	var digests int
	if err := owner.QueryRow(ctx, "SELECT count(*) FROM mail.outbox WHERE account_id = $1 AND kind = 'digest'", int64(u.ID)).
		Scan(&digests); err != nil || digests != 1 {
		t.Fatalf("%d digest rows for the account (%v), want 1", digests, err)
	}
	if err := owner.QueryRow(ctx, "SELECT (api.maintenance('daily_digests') ->> 'deleted')::int").Scan(&queued); err != nil || queued != 0 {
		t.Fatalf("a second run queued %d (%v), want none: one digest a day", queued, err)
	}

	m := mp.waitMail(t, u.Email, 2)[1]
	if m.Subject != "Your reminders for today and tomorrow" {
		t.Fatalf("second mail %q, want the digest", m.Subject)
	}
	for _, want := range []string{tomorrow, name, "water them", "repot & feed"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("the digest's text part lacks %q:\n%s", want, m.Text)
		}
	}
	if strings.Contains(m.HTML, "<script>") || !strings.Contains(m.HTML, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("the tracker's name is not escaped in the HTML part:\n%s", m.HTML)
	}
	text, html := unsubscribeRE.FindStringSubmatch(m.Text), unsubscribeRE.FindStringSubmatch(m.HTML)
	if text == nil || html == nil || text[1] != html[1] {
		t.Fatalf("no unsubscribe link in both parts' footer:\n%s\n%s", m.Text, m.HTML)
	}
	token := text[1]
	g.secrets.add(token)
	h := mp.headers(t, m.ID)
	oneClick := testPublicURL + "/api/v1/unsubscribe?token=" + token
	if got := h["List-Unsubscribe"]; len(got) != 1 || got[0] != "<"+oneClick+">" {
		t.Fatalf("List-Unsubscribe %q, want <%s>", got, oneClick)
	}
	if got := h["List-Unsubscribe-Post"]; len(got) != 1 || got[0] != "List-Unsubscribe=One-Click" {
		t.Fatalf("List-Unsubscribe-Post %q", got)
	}
	var kept bool
	if err := owner.QueryRow(ctx, "SELECT data::text LIKE '%' || $2 || '%' FROM mail.outbox WHERE account_id = $1 AND kind = 'digest'",
		int64(u.ID), token).Scan(&kept); err != nil || kept {
		t.Fatalf("the digest's outbox row holds the token: %v (%v)", kept, err)
	}

	notification := func() string {
		r := call("GET", "/account/preferences", nil)
		expect(t, r, 200, "")
		return obj(t, r.JSON(t), "preferences")["notification"].(string)
	}
	path := "/unsubscribe?token=" + token
	ip := uniqueIP()
	form := func(body string) resp {
		return g.do(req{Method: "POST", Path: path, IP: ip, Body: body,
			Headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}})
	}

	// Nothing acts on a GET (a mail scanner fetching the link).
	r = g.do(req{Method: "GET", Path: path, IP: ip})
	expect(t, r, 405, "")
	expectErrorBody(t, r)
	// Only the form, and only One-Click.
	expect(t, g.do(req{Method: "POST", Path: path, IP: ip, Body: map[string]any{"List-Unsubscribe": "One-Click"}}),
		415, "UNSUPPORTED_MEDIA_TYPE")
	r = form("List-Unsubscribe=Yes")
	expect(t, r, 422, "VALIDATION")
	if d := details(t, r); d["List-Unsubscribe"] != "must be One-Click" {
		t.Errorf("details %v", d)
	}
	expect(t, form("List-Unsubscribe=One-Click&more=1"), 400, "BAD_REQUEST")
	if n := notification(); n != "daily" {
		t.Fatalf("after a GET and refused posts: notification %q, want daily still", n)
	}

	r = form("List-Unsubscribe=One-Click")
	expect(t, r, 200, "")
	if b := r.JSON(t); b["status"] != "unsubscribed" || b["kind"] != "digest" {
		t.Fatalf("unsubscribe answered %s", r.Body)
	}
	if n := notification(); n != "none" {
		t.Fatalf("after the one-click post: notification %q, want none", n)
	}
	// A provider may post twice, and may send multipart/form-data (RFC 8058).
	var mb bytes.Buffer
	w := multipart.NewWriter(&mb)
	w.WriteField("List-Unsubscribe", "One-Click")
	w.Close()
	r = g.do(req{Method: "POST", Path: path, IP: ip, Body: mb.Bytes(), Headers: map[string]string{"Content-Type": w.FormDataContentType()}})
	expect(t, r, 200, "")
	if n := notification(); n != "none" {
		t.Fatalf("after the second post: notification %q", n)
	}
	forged := "/unsubscribe?token=" + strings.Repeat("A", 43)
	r = g.do(req{Method: "POST", Path: forged, IP: ip, Body: "List-Unsubscribe=One-Click",
		Headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}})
	expect(t, r, 400, "INVALID_TOKEN")
	expectErrorBody(t, r)
}

package e2e

// The monthly report mail end to end (sql/code/mail_reports.sql, the sender's
// gateway/mailer/report.go): accounts with trackers and logs, the report of
// March 2026 queued for each as `scripts/db send-reports` and the
// maintenance part queue it (mail.queue_report, here for these accounts
// only: a run for every account would mail the other tests' ones), and the
// mails read back from the run's Mailpit (mail_test.go). Not parallel, like
// the other mail tests.

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// reportMail is a mail as Mailpit's /api/v1/message/{ID} gives it, with its files.
type reportMail struct {
	ID, MessageID, Subject, Text, HTML string
	Inline, Attachments                []struct{ PartID, FileName, ContentType, ContentID string }
}

// reportMails are the report mails Mailpit holds for the address.
func (mp mailpit) reportMails(t *testing.T, addr string) []reportMail {
	t.Helper()
	var out []reportMail
	for _, m := range mp.to(t, addr) {
		if strings.HasPrefix(m.Subject, "Your report for ") {
			var full reportMail
			mp.get(t, "/api/v1/message/"+m.ID, &full)
			out = append(out, full)
		}
	}
	return out
}

// waitReport waits (20 s at most) for the address's report mail.
func (mp mailpit) waitReport(t *testing.T, addr string) reportMail {
	t.Helper()
	for start := time.Now(); time.Since(start) < 20*time.Second; time.Sleep(100 * time.Millisecond) {
		if got := mp.reportMails(t, addr); len(got) > 0 {
			t.Logf("the report mail for %s within %s", addr, time.Since(start).Round(time.Millisecond))
			return got[0]
		}
	}
	t.Fatalf("no report mail for %s after 20 s", addr)
	return reportMail{}
}

// part is one file of a mail, as sent.
func (mp mailpit) part(t *testing.T, id, partID string) []byte {
	t.Helper()
	r, err := http.Get(mp.api + "/api/v1/message/" + id + "/part/" + partID)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	if r.StatusCode != 200 {
		t.Fatalf("Mailpit part %s of %s: %d", partID, id, r.StatusCode)
	}
	return b
}

// queueReport queues an account's report of a month as the runs do; the
// outbox row's id, or 0 when none was queued.
func queueReport(t *testing.T, u user, month string) int64 {
	t.Helper()
	var id *int64
	if err := owner.QueryRow(context.Background(), `SELECT mail.queue_report($1, $2::date)`, int64(u.ID), month+"-01").Scan(&id); err != nil {
		t.Fatal(err)
	}
	if id == nil {
		return 0
	}
	return *id
}

func TestMailReport(t *testing.T) {
	mp := startMail(t)
	g := startGateway(t, nil)
	ctx := context.Background()

	// An account with trackers and logs in March 2026 (Europe/Berlin), as in TestMonthlyReport.
	setup := func(format string, confirmed bool) sessionUser {
		o := g.sessionUser(t)
		expect(t, o.call(g, "PUT", "/account/preferences",
			map[string]any{"notification": "none", "report_format": format, "timezone": "Europe/Berlin"}), 200, "")
		if confirmed {
			if _, err := owner.Exec(ctx, `UPDATE auth.accounts SET email_confirmed_at = now() WHERE id = $1`, int64(o.ID)); err != nil {
				t.Fatal(err)
			}
		}
		evil := o.createTracker(t, g, map[string]any{"name": "<script>alert(1)</script>", "type": "note"})
		sleep := o.createTracker(t, g, map[string]any{"name": "Sleep", "type": "numerical", "unit": "h"})
		for _, l := range []struct {
			tracker map[string]any
			body    map[string]any
		}{
			{evil, map[string]any{"note": "a", "emotion": "sad", "logged_at": "2026-03-01T08:00:00Z"}},
			{evil, map[string]any{"note": "b", "emotion": "sad", "logged_at": "2026-03-10T10:00:00Z"}},
			{evil, map[string]any{"note": "c", "logged_at": "2026-03-31T21:30:00Z"}},
			{sleep, map[string]any{"value": 7, "emotion": "calm", "logged_at": "2026-02-28T23:30:00Z"}}, // 1 March in Berlin
			{sleep, map[string]any{"value": 8, "logged_at": "2026-03-31T22:30:00Z"}},                    // April in Berlin
		} {
			o.addLog(t, g, num(t, l.tracker, "id"), l.body)
		}
		return o
	}
	htmlUser, pdfUser := setup("html", true), setup("pdf", true)
	noneUser, unconfirmed := setup("none", true), setup("html", false)

	r := htmlUser.call(g, "GET", "/reports/monthly?month=2026-03&tz=Europe/Berlin", nil)
	expect(t, r, 200, "")
	route := numbers(t, r)
	most := obj(t, route, "most_used_tracker")
	if num(t, route, "total_logs") != "4" || most["name"] != "<script>alert(1)</script>" || num(t, most, "count") != "3" {
		t.Fatalf("the route's report of March 2026: %v", route)
	}
	wantRows := []string{
		"Logs this month: " + num(t, route, "total_logs"),
		"Trackers: " + num(t, route, "total_trackers"),
		"Most used tracker: <script>alert(1)</script> (3 logs)",
		"Most frequent emotional state: " + route["frequent_emotional_state"].(string),
		"Logs written this month: " + num(t, route, "logs_created_this_month"),
		"Logins this month: " + num(t, route, "logged_in"),
	}

	// none and unconfirmed: nothing is queued; the others once, however often asked.
	if id := queueReport(t, noneUser.user, "2026-03"); id != 0 {
		t.Fatalf("report_format none: outbox row %d queued", id)
	}
	if id := queueReport(t, unconfirmed.user, "2026-03"); id != 0 {
		t.Fatalf("an unconfirmed account: outbox row %d queued", id)
	}
	if queueReport(t, htmlUser.user, "2026-03") == 0 || queueReport(t, pdfUser.user, "2026-03") == 0 {
		t.Fatal("no report queued for the html and pdf accounts")
	}
	if id := queueReport(t, htmlUser.user, "2026-03"); id != 0 {
		t.Fatalf("the same month again: outbox row %d queued", id)
	}

	// html: the report is the mail, its chart an inline PNG, the tracker's name escaped.
	m := mp.waitReport(t, htmlUser.Email)
	if m.Subject != "Your report for March 2026" {
		t.Fatalf("subject %q", m.Subject)
	}
	for _, want := range wantRows {
		if !strings.Contains(m.Text, want) {
			t.Fatalf("the text part has no %q:\n%s", want, m.Text)
		}
		label, value, _ := strings.Cut(want, ": ")
		if !strings.Contains(m.HTML, label) || !strings.Contains(m.HTML, strings.ReplaceAll(strings.ReplaceAll(value, "<", "&lt;"), ">", "&gt;")) {
			t.Fatalf("the HTML part has no %q:\n%s", want, m.HTML)
		}
	}
	if strings.Contains(m.HTML, "<script>") || !strings.Contains(m.HTML, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Fatalf("the tracker's name is not escaped in the HTML part:\n%s", m.HTML)
	}
	if len(m.Inline) != 1 || m.Inline[0].ContentType != "image/png" || m.Inline[0].ContentID != "chart.png" ||
		!strings.Contains(m.HTML, `src="cid:chart.png"`) || len(m.Attachments) != 0 {
		t.Fatalf("html mail: inline %+v, attachments %+v", m.Inline, m.Attachments)
	}
	img, err := png.Decode(bytes.NewReader(mp.part(t, m.ID, m.Inline[0].PartID)))
	if err != nil {
		t.Fatalf("the inline chart: %v", err)
	}
	t.Logf("the chart: %v", img.Bounds().Size())

	// pdf: a short mail, the report attached as report-2026-03.pdf.
	p := mp.waitReport(t, pdfUser.Email)
	if len(p.Attachments) != 1 || p.Attachments[0].FileName != "report-2026-03.pdf" || p.Attachments[0].ContentType != "application/pdf" ||
		len(p.Inline) != 0 || !strings.Contains(p.Text, "report-2026-03.pdf") {
		t.Fatalf("pdf mail: attachments %+v, inline %+v\n%s", p.Attachments, p.Inline, p.Text)
	}
	doc := mp.part(t, p.ID, p.Attachments[0].PartID)
	f := filepath.Join(t.TempDir(), "report.pdf")
	if err := os.WriteFile(f, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-layout", f, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext (poppler-utils, installed by scripts/test): %v", err)
	}
	text := strings.Join(strings.Fields(string(out)), " ")
	t.Logf("the PDF: %d bytes", len(doc))
	for _, want := range append([]string{"Your report for March 2026", "Europe/Berlin"}, wantRows...) {
		label, value, _ := strings.Cut(want, ": ")
		if !strings.Contains(text, label+" "+value) && !strings.Contains(text, want) {
			t.Fatalf("the PDF's text has no %q:\n%s", want, out)
		}
	}

	// Nothing for none nor unconfirmed, and one mail for a month asked twice
	// (the sender has sent everything queued before the pdf one by now).
	for _, u := range []sessionUser{noneUser, unconfirmed} {
		if got := mp.reportMails(t, u.Email); len(got) != 0 {
			t.Fatalf("%s got %d report mail(s)", u.Email, len(got))
		}
	}
	if got := mp.reportMails(t, htmlUser.Email); len(got) != 1 {
		t.Fatalf("%d report mails for one month", len(got))
	}
	var rows int
	if err := owner.QueryRow(ctx, `SELECT count(*) FROM mail.outbox WHERE kind = 'monthly_report' AND account_id = ANY($1)`,
		[]int64{int64(htmlUser.ID), int64(pdfUser.ID), int64(noneUser.ID), int64(unconfirmed.ID)}).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 2 {
		t.Fatal(fmt.Sprintf("%d outbox rows, want 2", rows))
	}
}

package mailer

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReportScreenshots writes the pictures of docs/mail.md when
// MAIL_SCREENSHOTS names a folder (scripts/screenshots, which installs
// Chromium and poppler-utils): report-mail.png, the HTML part of a sample
// report mail as headless Chromium shows it (the chart where cid:chart.png
// points), and report-pdf.png, the first page of the same report as a PDF
// (pdftoppm). The sample is fixed, so the pictures change only when the
// renderers do.
func TestReportScreenshots(t *testing.T) {
	dir := os.Getenv("MAIL_SCREENSHOTS")
	if dir == "" {
		t.Skip("MAIL_SCREENSHOTS is not set (scripts/screenshots sets it)")
	}
	for _, tool := range []string{"chromium", "pdftoppm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed (scripts/screenshots installs it)", tool)
		}
	}
	tmpl, err := LoadTemplates()
	if err != nil {
		t.Fatal(err)
	}
	days := []int{1, 2, 0, 3, 2, 1, 0, 2, 4, 3, 1, 0, 2, 5, 3, 2, 1, 0, 0, 2, 3, 4, 2, 1, 3, 0, 2, 3}
	total := 0
	for _, n := range days {
		total += n
	}
	sample := func(format string) json.RawMessage {
		d, _ := json.Marshal(map[string]any{
			"report": map[string]any{"month": "2026-02", "total_trackers": 4, "total_logs": total,
				"most_used_tracker":        map[string]any{"id": 12, "name": "Morning run ✓ Läufe", "count": 21},
				"frequent_emotional_state": "calm", "logs_created_this_month": total + 2, "logged_in": 17},
			"days": days, "format": format, "timezone": "Europe/Berlin", "complete": true,
			"username": "ann", "display_name": "Ann", "unsubscribe": "report", "unsubscribe_token": "unsub-tok",
		})
		return d
	}
	work := t.TempDir()
	run := func(name string, args ...string) {
		t.Helper()
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
	}

	v, err := ViewOf("monthly_report", "ann@example.com", sample("html"), "Homebase", "https://homebase.example")
	if err != nil {
		t.Fatal(err)
	}
	out, err := tmpl.Render("monthly_report", v)
	if err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(work, "mail.html")
	if err := os.WriteFile(filepath.Join(work, chartName), out.Inline[0].Data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(page, []byte(strings.ReplaceAll(out.HTML, "cid:"+chartName, chartName)), 0o600); err != nil {
		t.Fatal(err)
	}
	mailPNG := filepath.Join(dir, "report-mail.png")
	run("chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--force-device-scale-factor=1",
		"--window-size=720,700", "--screenshot="+mailPNG, "file://"+page)

	v, _ = ViewOf("monthly_report", "ann@example.com", sample("pdf"), "Homebase", "https://homebase.example")
	if out, err = tmpl.Render("monthly_report", v); err != nil {
		t.Fatal(err)
	}
	pdf := filepath.Join(work, out.Attached[0].Name)
	if err := os.WriteFile(pdf, out.Attached[0].Data, 0o600); err != nil {
		t.Fatal(err)
	}
	run("pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", pdf, filepath.Join(dir, "report-pdf"))
	for _, f := range []string{mailPNG, filepath.Join(dir, "report-pdf.png")} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: %d bytes", f, st.Size())
	}
}

package mailer

import (
	"bytes"
	"encoding/json"
	"image/png"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// reportData is an outbox row's data as mail.queue_report writes it
// (tests/sql/19_mail_reports.sql checks that shape): February 2026, logs
// on the 1st (2), the 14th (1) and the 28th (1).
func reportData(format string) json.RawMessage {
	days := make([]int, 28)
	days[0], days[13], days[27] = 2, 1, 1
	d, _ := json.Marshal(map[string]any{
		"report": map[string]any{"month": "2026-02", "total_trackers": 3, "total_logs": 4,
			"most_used_tracker":        map[string]any{"id": 7, "name": "<script>alert(1)</script>", "count": 3},
			"frequent_emotional_state": "calm", "logs_created_this_month": 5, "logged_in": 6},
		"days": days, "format": format, "timezone": "Europe/Berlin", "complete": true,
		"username": "ann", "display_name": "Ann <b>", "unsubscribe": "report", "unsubscribe_token": "unsub-tok",
	})
	return d
}

func TestReportView(t *testing.T) {
	r, err := ReportOf(reportData("html"))
	if err != nil {
		t.Fatal(err)
	}
	if r.MonthName() != "February 2026" || r.Title() != "Your report for February 2026" || r.FileName() != "report-2026-02.pdf" ||
		r.PDF() || r.TimeZone != "Europe/Berlin" || r.DisplayName != "Ann <b>" || len(r.Days) != 28 {
		t.Fatalf("the view: %+v", r)
	}
	want := []Row{{"Logs this month", "4"}, {"Trackers", "3"}, {"Most used tracker", "<script>alert(1)</script> (3 logs)"},
		{"Most frequent emotional state", "calm"}, {"Logs written this month", "5"}, {"Logins this month", "6"}}
	if got := r.Rows(); len(got) != len(want) {
		t.Fatalf("rows %v", got)
	} else {
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("row %d: %v, want %v", i, got[i], want[i])
			}
		}
	}
	if got := r.BusiestDays(); len(got) != 3 || got[0] != (Row{"1 Feb", "2"}) || got[2] != (Row{"28 Feb", "1"}) {
		t.Fatalf("days with logs: %v", got)
	}
	r.Complete = false
	if r.Title() != "Your report for February 2026 so far" {
		t.Fatalf("a month not ended: %q", r.Title())
	}

	empty, err := ReportOf(json.RawMessage(`{"report": {"month": "2026-03", "total_trackers": 0, "total_logs": 0,
		"most_used_tracker": null, "frequent_emotional_state": null, "logs_created_this_month": 0, "logged_in": 0},
		"days": [` + strings.Repeat("0, ", 30) + `0], "format": "pdf", "timezone": "UTC", "complete": true}`))
	if err != nil {
		t.Fatal(err)
	}
	if rows := empty.Rows(); rows[2].Value != "none (no log this month)" || rows[3].Value != "none" || !empty.PDF() {
		t.Fatalf("a month without logs: %v", rows)
	}

	for _, bad := range []string{`{}`, `{"report": {"month": "2026-02"}, "days": [1], "format": "html"}`,
		`{"report": {"month": "Feb"}, "days": [], "format": "html"}`,
		strings.Replace(string(reportData("html")), `"format":"html"`, `"format":"none"`, 1), `[]`} {
		if _, err := ReportOf(json.RawMessage(bad)); err == nil {
			t.Fatalf("%s made a report", bad)
		}
	}
}

// The chart is a PNG of the announced size, twice as large as shown; a day
// with logs has a bar, a day without none.
func TestReportChartPNG(t *testing.T) {
	r, _ := ReportOf(reportData("html"))
	b, err := r.ChartPNG()
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("chart: %d bytes", len(b))
	if sz := img.Bounds().Size(); sz.X != ChartWidth*chartScale || sz.Y != ChartHeight*chartScale {
		t.Fatalf("chart %v, want %dx%d", sz, ChartWidth*chartScale, ChartHeight*chartScale)
	}
	// The middle of each day's slot, just above the baseline.
	left, right, bottom := 36*chartScale, 8*chartScale, (ChartHeight-22)*chartScale
	slot := float64(ChartWidth*chartScale-left-right) / 28
	isBar := func(day int) bool {
		x := left + int((float64(day)-0.5)*slot)
		cr, cg, cb, _ := img.At(x, bottom-3).RGBA()
		return cr>>8 == uint32(chartBar.R) && cg>>8 == uint32(chartBar.G) && cb>>8 == uint32(chartBar.B)
	}
	for day, want := range map[int]bool{1: true, 2: false, 14: true, 15: false, 28: true} {
		if isBar(day) != want {
			t.Fatalf("day %d: a bar %v, want %v", day, !want, want)
		}
	}
}

// pdfText is the text of a PDF, by pdftotext (poppler-utils, which the
// scripts install): fpdf writes a UTF-8 font's text as glyph numbers, so
// the file's bytes do not hold it.
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	if _, err := exec.LookPath("pdftotext"); err != nil {
		t.Skip("pdftotext is not installed (Debian: poppler-utils; scripts/test installs it)")
	}
	f := filepath.Join(t.TempDir(), "report.pdf")
	if err := os.WriteFile(f, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-layout", f, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return string(out)
}

// The PDF holds the report's numbers and a tracker named in any script.
func TestReportPDF(t *testing.T) {
	r, _ := ReportOf(reportData("pdf"))
	r.MostUsed.Name = "Ünïcødé Ελληνικά Кириллица ✓"
	chart, err := r.ChartPNG()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := r.RenderPDF(chart)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("PDF: %d bytes", len(doc))
	if !bytes.HasPrefix(doc, []byte("%PDF-")) {
		t.Fatalf("not a PDF: %q", doc[:min(len(doc), 16)])
	}
	if !bytes.Contains(doc, []byte("/Subtype /Image")) {
		t.Fatal("the PDF holds no image: where is the chart?")
	}
	text := pdfText(t, doc)
	for _, want := range []string{"Your report for February 2026", "Logs this month", "Most used tracker",
		"Ünïcødé Ελληνικά Кириллица ✓ (3 logs)", "calm", "Europe/Berlin"} {
		if !strings.Contains(text, want) {
			t.Fatalf("the PDF's text has no %q:\n%s", want, text)
		}
	}
	for _, row := range r.Rows() {
		if !strings.Contains(text, row.Label) || !strings.Contains(text, row.Value) {
			t.Fatalf("the PDF's text has no row %v:\n%s", row, text)
		}
	}
}

// Rendered through the sender: html is the report with the chart inline
// (cid:chart.png, a multipart/related part), pdf a short mail with the
// attachment; what a user typed is escaped in the HTML part.
func TestRenderMonthlyReport(t *testing.T) {
	tmpl, err := LoadTemplates()
	if err != nil {
		t.Fatal(err)
	}
	m := &Mailer{cfg: Config{From: &mail.Address{Name: "Homebase", Address: "mail@homebase.test"}}, tmpl: tmpl}

	v, err := ViewOf("monthly_report", "ann@example.com", reportData("html"), "Homebase", "https://homebase.test")
	if err != nil {
		t.Fatal(err)
	}
	out, err := tmpl.Render("monthly_report", v)
	if err != nil {
		t.Fatal(err)
	}
	if out.Subject != "Your report for February 2026" || len(out.Inline) != 1 || out.Inline[0].Name != "chart.png" ||
		out.Inline[0].ContentType != "image/png" || len(out.Attached) != 0 {
		t.Fatalf("html: %q, inline %d, attached %d", out.Subject, len(out.Inline), len(out.Attached))
	}
	for _, want := range []string{`src="cid:chart.png"`, "&lt;script&gt;alert(1)&lt;/script&gt; (3 logs)", "Hello Ann &lt;b&gt;,",
		"Logs this month", "<td style=\"padding: 0.4em 0.6em; font-weight: bold; border-bottom: 1px solid #e4e4e4;\">4</td>"} {
		if !strings.Contains(out.HTML, want) {
			t.Fatalf("the HTML part has no %s:\n%s", want, out.HTML)
		}
	}
	if strings.Contains(out.HTML, "<script>") || strings.Contains(out.HTML, "<svg") {
		t.Fatalf("the HTML part holds markup the user typed, or SVG:\n%s", out.HTML)
	}
	for _, want := range []string{"Logs this month: 4", "Most used tracker: <script>alert(1)</script> (3 logs)", "1 Feb: 2;"} {
		if !strings.Contains(out.Text, want) {
			t.Fatalf("the text part has no %q:\n%s", want, out.Text)
		}
	}
	msg, err := m.message(outboxRow{ID: 9, Kind: "monthly_report", Recipient: "ann@example.com", Data: reportData("html")})
	if err != nil {
		t.Fatal(err)
	}
	var raw bytes.Buffer
	if _, err := msg.WriteTo(&raw); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"multipart/related", "content-id: <chart.png>", "content-type: image/png"} {
		if !strings.Contains(strings.ToLower(raw.String()), want) {
			t.Fatalf("the html mail has no %q:\n%s", want, raw.String()[max(0, strings.Index(raw.String(), "image/png")-500):][:1000])
		}
	}

	v, _ = ViewOf("monthly_report", "ann@example.com", reportData("pdf"), "Homebase", "https://homebase.test")
	out, err = tmpl.Render("monthly_report", v)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Inline) != 0 || len(out.Attached) != 1 || out.Attached[0].Name != "report-2026-02.pdf" ||
		out.Attached[0].ContentType != "application/pdf" || strings.Contains(out.HTML, "cid:") ||
		!strings.Contains(out.HTML, "report-2026-02.pdf") || !strings.Contains(out.Text, "report-2026-02.pdf") {
		t.Fatalf("pdf: inline %d, attached %v\n%s", len(out.Inline), out.Attached, out.HTML)
	}
	if text := pdfText(t, out.Attached[0].Data); !strings.Contains(text, "Logins this month") {
		t.Fatalf("the attachment's text:\n%s", text)
	}
}

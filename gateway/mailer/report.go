package mailer

// The monthly report mail (kind monthly_report, queued by
// sql/code/mail_reports.sql). One view of the report, Report, built from the
// outbox row's data, feeds three renderers: the templates
// (templates/monthly_report.*: the HTML report, or a short mail when the
// report comes as a PDF), the chart of the month's logs per day (a PNG,
// chart.go), and the PDF (pdf.go). The numbers are formatted once, here.

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Report is one monthly report as every renderer sees it.
type Report struct {
	Month       time.Time // the first day of the month (a calendar date; the zone is TimeZone)
	Format      string    // html (the report is the mail) or pdf (the report is attached)
	TimeZone    string    // the account's IANA zone, in which the month was counted
	Complete    bool      // false: queued by hand before the month ended, a report so far
	DisplayName string
	Username    string

	// The monthly report route's fields (GET /reports/monthly).
	TotalTrackers int64
	TotalLogs     int64
	MostUsed      *TrackerCount // nil: no log this month
	Emotion       string        // the most frequent emotional state; "" when no log had one
	LogsCreated   int64         // logs written this month (backfilled or not)
	LoggedIn      int64         // logins this month

	Days []int64 // the logs of each day, the 1st first
}

// TrackerCount is the most used tracker of the month.
type TrackerCount struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Count int64  `json:"count"`
}

// Row is one line of the report's table: a label and its value, as text.
type Row struct{ Label, Value string }

// ReportOf reads the report of an outbox row's data (mail.queue_report:
// "report" is the route's answer, "days" the logs per day). Data that does
// not make a report is an error: the row fails for good.
func ReportOf(data json.RawMessage) (*Report, error) {
	var d struct {
		Report *struct {
			Month         string        `json:"month"`
			TotalTrackers int64         `json:"total_trackers"`
			TotalLogs     int64         `json:"total_logs"`
			MostUsed      *TrackerCount `json:"most_used_tracker"`
			Emotion       *string       `json:"frequent_emotional_state"`
			LogsCreated   int64         `json:"logs_created_this_month"`
			LoggedIn      int64         `json:"logged_in"`
		} `json:"report"`
		Days        []int64 `json:"days"`
		Format      string  `json:"format"`
		TimeZone    string  `json:"timezone"`
		Complete    bool    `json:"complete"`
		DisplayName string  `json:"display_name"`
		Username    string  `json:"username"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("report data: %w", err)
	}
	if d.Report == nil {
		return nil, fmt.Errorf("report data: no report")
	}
	month, err := time.Parse("2006-01", d.Report.Month)
	if err != nil {
		return nil, fmt.Errorf("report data: month %q: %w", d.Report.Month, err)
	}
	if n := month.AddDate(0, 1, -1).Day(); len(d.Days) != n {
		return nil, fmt.Errorf("report data: %d days for %s, want %d", len(d.Days), d.Report.Month, n)
	}
	if d.Format != "html" && d.Format != "pdf" {
		return nil, fmt.Errorf("report data: format %q, want html or pdf", d.Format)
	}
	r := &Report{
		Month: month, Format: d.Format, TimeZone: d.TimeZone, Complete: d.Complete,
		DisplayName: d.DisplayName, Username: d.Username,
		TotalTrackers: d.Report.TotalTrackers, TotalLogs: d.Report.TotalLogs, MostUsed: d.Report.MostUsed,
		LogsCreated: d.Report.LogsCreated, LoggedIn: d.Report.LoggedIn, Days: d.Days,
	}
	if d.Report.Emotion != nil {
		r.Emotion = *d.Report.Emotion
	}
	return r, nil
}

// MonthName is the month as people write it: "February 2026".
func (r *Report) MonthName() string { return r.Month.Format("January 2006") }

// Title is the report's title: "Your report for February 2026" (" so far"
// for a month that had not ended).
func (r *Report) Title() string {
	t := "Your report for " + r.MonthName()
	if !r.Complete {
		t += " so far"
	}
	return t
}

// PDF: the report comes as an attachment.
func (r *Report) PDF() bool { return r.Format == "pdf" }

// FileName is the PDF attachment's name: report-YYYY-MM.pdf.
func (r *Report) FileName() string { return "report-" + r.Month.Format("2006-01") + ".pdf" }

// Rows are the report's table, the same in the text part, the HTML part
// and the PDF.
func (r *Report) Rows() []Row {
	most, emotion := "none (no log this month)", "none"
	if r.MostUsed != nil {
		most = fmt.Sprintf("%s (%s)", r.MostUsed.Name, plural(r.MostUsed.Count, "log"))
	}
	if r.Emotion != "" {
		emotion = r.Emotion
	}
	return []Row{
		{"Logs this month", strconv.FormatInt(r.TotalLogs, 10)},
		{"Trackers", strconv.FormatInt(r.TotalTrackers, 10)},
		{"Most used tracker", most},
		{"Most frequent emotional state", emotion},
		{"Logs written this month", strconv.FormatInt(r.LogsCreated, 10)},
		{"Logins this month", strconv.FormatInt(r.LoggedIn, 10)},
	}
}

// BusiestDays is the text part's account of the chart: each day with
// logs, "3 Feb: 2".
func (r *Report) BusiestDays() []Row {
	var out []Row
	for i, n := range r.Days {
		if n > 0 {
			out = append(out, Row{r.Month.AddDate(0, 0, i).Format("2 Jan"), strconv.FormatInt(n, 10)})
		}
	}
	return out
}

// ChartAlt describes the chart for a reader who does not see it.
func (r *Report) ChartAlt() string {
	return fmt.Sprintf("Logs per day in %s: %s on %s", r.MonthName(), plural(r.TotalLogs, "log"),
		plural(int64(len(r.BusiestDays())), "day"))
}

func plural(n int64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.FormatInt(n, 10) + " " + what + "s"
}

// Part is a file of a mail: the chart shown inline (Content-ID <Name>), or
// the PDF attached.
type Part struct {
	Name, ContentType string
	Data              []byte
}

// reportParts renders the files of a report mail: html, the chart inline
// (the HTML part shows it as cid:chart.png); pdf, the PDF attached.
func reportParts(r *Report) (inline, attached []Part, err error) {
	chart, err := r.ChartPNG()
	if err != nil {
		return nil, nil, err
	}
	if !r.PDF() {
		return []Part{{Name: chartName, ContentType: "image/png", Data: chart}}, nil, nil
	}
	doc, err := r.RenderPDF(chart)
	if err != nil {
		return nil, nil, err
	}
	return nil, []Part{{Name: r.FileName(), ContentType: "application/pdf", Data: doc}}, nil
}

// chartName is the inline chart's file name and Content-ID.
const chartName = "chart.png"

package mailer

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"strings"
	texttemplate "text/template"

	"homebase/gateway"
)

// The templates, one pair per kind of mail (the outbox's kind): KIND.txt
// (text/template) and KIND.html (html/template, which escapes everything
// the view holds: a display name is text, never markup). Each defines
// "subject" and "body"; layout.txt and layout.html wrap the body. A new kind
// (a digest) is two files here and its view's fields below. The monthly
// report adds files to its mail (report.go): its chart inline, or its PDF.
//
//go:embed templates/*.txt templates/*.html
var templateFS embed.FS

// View is what every template sees. The strings come from the outbox row's
// data (what the user typed, as stored) and from the configuration.
type View struct {
	Site        string // the sender's name, from MAIL_FROM
	To          string
	Username    string
	DisplayName string
	Link        string  // PUBLIC_URL/confirm-email?token=… or /reset-password?token=…
	Change      bool    // confirm_email: the address is an account's new one
	NewEmail    string  // email_change_notice: the address asked for
	Report      *Report // monthly_report: the report (report.go)
	// Digest: the period (daily, weekly), its first and last date, the
	// reminders due in it (at most 50; More when there were more).
	Period      string
	From, Until string
	Reminders   []Reminder
	More        bool
	// A periodic mail (data "unsubscribe": digest or report): the footer's
	// link, PUBLIC_URL/unsubscribe?token=… (a page of the web client, whose
	// button posts), and the List-Unsubscribe header's one-click URL,
	// PUBLIC_URL/api/v1/unsubscribe?token=… (RFC 8058: the mailbox provider
	// posts List-Unsubscribe=One-Click to it). Empty for the other mails.
	Unsubscribe, OneClick string
}

// Reminder is one log with a reminder, as tracking.reminders gives it.
type Reminder struct {
	Tracker struct {
		Name string `json:"name"`
	} `json:"tracker"`
	EventDate string `json:"event_date"`
	Message   string `json:"event_reminder_msg"`
	Note      string `json:"note"`
}

// Rendered is one mail ready for MIME: a one-line subject, both parts, and
// its files: shown inline by the HTML part (cid:NAME) or attached.
type Rendered struct {
	Subject, Text, HTML string
	Inline, Attached    []Part
}

// Templates holds the parsed pairs by kind.
type Templates struct {
	text map[string]*texttemplate.Template
	html map[string]*htmltemplate.Template
}

// Kinds are the mails this sender knows; a row of another kind fails for good.
var Kinds = []string{"confirm_email", "password_reset", "email_change_notice", "monthly_report", "digest"}

// LoadTemplates parses every kind's pair with its layout.
func LoadTemplates() (*Templates, error) {
	t := &Templates{text: map[string]*texttemplate.Template{}, html: map[string]*htmltemplate.Template{}}
	for _, k := range Kinds {
		tt, err := texttemplate.ParseFS(templateFS, "templates/layout.txt", "templates/"+k+".txt")
		if err != nil {
			return nil, err
		}
		ht, err := htmltemplate.ParseFS(templateFS, "templates/layout.html", "templates/"+k+".html")
		if err != nil {
			return nil, err
		}
		t.text[k], t.html[k] = tt.Option("missingkey=error"), ht.Option("missingkey=error")
	}
	return t, nil
}

// Links: the pages of the web client that post the token (nothing acts on a GET).
var linkPaths = map[string]string{"confirm_email": "/confirm-email", "password_reset": "/reset-password"}

// ViewOf builds the view of one outbox row.
func ViewOf(kind, recipient string, data json.RawMessage, site, publicURL string) (View, error) {
	var d struct {
		Token       string     `json:"token"`
		Username    string     `json:"username"`
		DisplayName string     `json:"display_name"`
		Change      bool       `json:"change"`
		NewEmail    string     `json:"new_email"`
		Period      string     `json:"period"`
		From        string     `json:"from"`
		Until       string     `json:"until"`
		Reminders   []Reminder `json:"reminders"`
		More        bool       `json:"more"`
		// Set by sender.claim for a mail whose data names "unsubscribe".
		Unsubscribe      string `json:"unsubscribe"`
		UnsubscribeToken string `json:"unsubscribe_token"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return View{}, fmt.Errorf("outbox data: %w", err)
	}
	v := View{Site: site, To: recipient, Username: d.Username, DisplayName: d.DisplayName, Change: d.Change, NewEmail: d.NewEmail,
		Period: d.Period, From: d.From, Until: d.Until, Reminders: d.Reminders, More: d.More}
	base := strings.TrimRight(publicURL, "/")
	if p, ok := linkPaths[kind]; ok {
		if d.Token == "" {
			return View{}, fmt.Errorf("a %s mail without its token (sent already?)", kind)
		}
		v.Link = base + p + "?token=" + url.QueryEscape(d.Token)
	}
	if d.Unsubscribe != "" {
		// A periodic mail never goes without its way out.
		if d.UnsubscribeToken == "" {
			return View{}, fmt.Errorf("a %s mail without its unsubscribe token (unknown kind %q?)", kind, d.Unsubscribe)
		}
		q := "?token=" + url.QueryEscape(d.UnsubscribeToken)
		v.Unsubscribe, v.OneClick = base+"/unsubscribe"+q, base+gateway.APIPrefix+"/unsubscribe"+q
	}
	if kind == "monthly_report" {
		r, err := ReportOf(data)
		if err != nil {
			return View{}, err
		}
		v.Report = r
	}
	return v, nil
}

// Render fills the kind's pair.
func (t *Templates) Render(kind string, v View) (Rendered, error) {
	tt, ht := t.text[kind], t.html[kind]
	if tt == nil || ht == nil {
		return Rendered{}, fmt.Errorf("no template for the mail kind %q", kind)
	}
	var subject, text, html bytes.Buffer
	if err := tt.ExecuteTemplate(&subject, "subject", v); err != nil {
		return Rendered{}, err
	}
	if err := tt.ExecuteTemplate(&text, "layout", v); err != nil {
		return Rendered{}, err
	}
	if err := ht.ExecuteTemplate(&html, "layout", v); err != nil {
		return Rendered{}, err
	}
	out := Rendered{Subject: oneLine(subject.String()), Text: text.String(), HTML: html.String()}
	if v.Report != nil {
		var err error
		if out.Inline, out.Attached, err = reportParts(v.Report); err != nil {
			return Rendered{}, fmt.Errorf("the report's files: %w", err)
		}
	}
	return out, nil
}

// oneLine makes a header value of text: line breaks (and other control
// characters) become spaces, so no text ends a header and starts another.
func oneLine(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s))
}

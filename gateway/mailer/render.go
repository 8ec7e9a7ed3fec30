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
var Kinds = []string{"confirm_email", "password_reset", "email_change_notice", "monthly_report"}

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
		Token       string `json:"token"`
		Username    string `json:"username"`
		DisplayName string `json:"display_name"`
		Change      bool   `json:"change"`
		NewEmail    string `json:"new_email"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return View{}, fmt.Errorf("outbox data: %w", err)
	}
	v := View{Site: site, To: recipient, Username: d.Username, DisplayName: d.DisplayName, Change: d.Change, NewEmail: d.NewEmail}
	if p, ok := linkPaths[kind]; ok {
		if d.Token == "" {
			return View{}, fmt.Errorf("a %s mail without its token (sent already?)", kind)
		}
		v.Link = strings.TrimRight(publicURL, "/") + p + "?token=" + url.QueryEscape(d.Token)
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

package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
)

const (
	maxBody    = 1 << 20 // 1 MiB
	maxBrowser = 512     // bytes of User-Agent kept as the session's browser info
)

// The session cookie's two names. A Secure cookie (COOKIE_SECURE=true, the
// default) is named with the __Host- prefix, which browsers accept only
// from HTTPS, with Path=/ and without Domain: so no sibling subdomain (and
// no one on plain HTTP) can plant a session cookie for this origin, say to
// log a victim into the attacker's account. Plain-HTTP development
// (COOKIE_SECURE=false) keeps "session": a browser refuses a __Host- cookie
// that is not Secure.
const (
	hostSessionCookie = "__Host-session"
	sessionCookie     = "session"
)

// cookieName is the session cookie the gateway sets, and the only one it
// reads: reading "session" as well under COOKIE_SECURE=true would let a
// planted cookie in again, undoing the prefix (a session cookie of the old
// name is ignored; its holder logs in once more).
func cookieName(secure bool) string {
	if secure {
		return hostSessionCookie
	}
	return sessionCookie
}

// contextItems is the number of attributes of the SQL type request.context
// (sql/code/request.sql), which contextArgs fills in the same order.
const contextItems = 6

// contextArgs are the request's context, the first argument of every api
// function: the session token (NULL when none), the User-Agent, the client
// IP, the request id, the user a trusted proxy asserts (NULL when none) and
// the trace id (NULL for a handler called without withRequestContext).
// A new context item is an attribute of request.context, one line here and
// contextItems + 1; no route changes.
func (s *Server) contextArgs(info *requestWriter, r *http.Request, tok string, args []any) {
	if tok != "" {
		args[0] = tok
	}
	args[1] = browserInfo(r)
	args[2] = s.clientString(info, r)
	args[3] = info.id
	if info.proxyUser != "" {
		args[4] = info.proxyUser
	}
	if info.trace != "" {
		args[5] = info.trace
	}
}

// callSQL is the one statement a route runs: the plain call inside
// api.timed, which passes its answer through and writes a slow call's line
// to PostgreSQL's log (sql/code/api/admin.sql), nothing else (a committed
// failure's status travels in the result; committedFailure).
// The context travels as an anonymous ROW in request.context's attribute
// order, which PostgreSQL casts to the parameter's type, so the gateway needs
// no privilege on the request schema.
func callSQL(rt Route) string {
	ctx := make([]string, contextItems)
	for i := range ctx {
		ctx[i] = fmt.Sprintf("$%d", i+1)
	}
	row := "ROW(" + strings.Join(ctx, ", ") + ")"
	params := []string{row}
	for i := range rt.Args {
		params = append(params, fmt.Sprintf("$%d", contextItems+i+1))
	}
	return fmt.Sprintf("SELECT api.timed(%s, '%s', %s(%s))", row, rt.Func, rt.Func, strings.Join(params, ", "))
}

// statusMember is how response.fail (sql/code/response.sql) writes the
// status into a committed failure's body, as json_build_object spells it.
var statusMember = []byte(`"$status"`)

// committedFailure is the error of a body that response.fail made: one with
// a top-level "$status" member, the failure's status. Any other body is a
// success (nil). A scan finds the member's name; only a body that holds it
// is parsed, so a success costs one pass over its bytes.
func committedFailure(out []byte) *apiError {
	if !bytes.Contains(out, statusMember) {
		return nil
	}
	var f struct {
		Status int `json:"$status"`
		apiError
	}
	if json.Unmarshal(out, &f) != nil || f.Status < 400 || f.Status > 599 {
		return nil // "$status" was inside a value, not a member of the body
	}
	e := &f.apiError
	e.status = f.Status
	if e.Code == "" {
		e = newError(f.Status, defaultMessages[f.Status], nil)
	}
	return e
}

// handle is the generic handler: it reads the route's arguments, calls its
// function once, and writes the JSON the function returned.
func (s *Server) handle(rt Route) http.HandlerFunc {
	sql := callSQL(rt)
	return func(w http.ResponseWriter, r *http.Request) {
		info := writerOf(w)
		tok, fromCookie := sessionToken(r, cookieName(s.cfg.CookieSecure))
		if info.proxyUser = s.proxyUser(r); info.proxyUser != "" {
			// The proxy's identity wins: a token or cookie beside it is not sent.
			tok, fromCookie = "", false
		}
		if rt.Auth {
			if tok == "" && info.proxyUser == "" {
				writeError(w, newError(401, "send a session token (Authorization: Bearer, or the session cookie)", nil))
				return
			}
			// A browser sends a proxy's credentials (Basic auth) on its own,
			// as it sends a cookie: the same rule holds for both.
			if (fromCookie || info.proxyUser != "") && !safeMethod(r.Method) && !s.sameOrigin(r) {
				e := newError(403, "cross-site request refused; send the Origin header or a Bearer token", nil)
				e.Code = "CSRF"
				writeError(w, e)
				return
			}
		}

		args, apiErr := s.readArgs(info, r, rt, tok)
		if apiErr != nil {
			writeError(w, apiErr)
			return
		}

		var out []byte
		var err error
		info.fn = rt.Func
		var dbStart time.Time
		if s.otel != nil {
			dbStart = time.Now()
		}
		if rt.Bcrypt {
			if !s.bcrypt.enter(r.Context()) {
				if r.Context().Err() != nil {
					info.status = statusClientClosed
					return
				}
				writeError(w, errBcryptBusy())
				return
			}
			out, err = s.call(r.Context(), &rt, tok, sql, args)
			s.bcrypt.leave()
		} else {
			out, err = s.call(r.Context(), &rt, tok, sql, args)
		}
		if s.otel != nil {
			info.dbTime = time.Since(dbStart)
		}
		if err != nil && r.Context().Err() != nil {
			// The client went away; nobody reads this answer. 499 is nginx's
			// "client closed request", for the access log only.
			info.status = statusClientClosed
			return
		}
		var e *apiError
		if err != nil {
			e, info.sqlstate = errorFromDB(r.Context(), err)
			if e.status >= 500 {
				info.err = err // logged by the access log, never sent
			}
		} else if e = committedFailure(out); e != nil {
			// A failure the function committed (response.fail); the log
			// reads as if it had been raised.
			info.sqlstate = "PT" + strconv.Itoa(e.status)
		}
		if e != nil {
			if fromCookie && sessionRefused(e) {
				clearCookie(w, s.cfg.CookieSecure)
			}
			writeError(w, e)
			return
		}

		switch rt.Cookie {
		case SetCookie:
			s.setSessionCookie(w, out)
		case ClearCookie:
			clearCookie(w, s.cfg.CookieSecure)
		}
		w.Header().Set("Cache-Control", "no-store")
		if rt.Status == http.StatusNoContent || len(out) == 0 {
			w.WriteHeader(rt.Status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rt.Status)
		w.Write(out)
	}
}

// readArgs collects the function's arguments in its order: the context,
// then the route's own. Every problem with the request's shape is a 400, 413
// or 415 here, and text longer than its Max is refused here too (a 422, or
// OverMax's answer); whether the values make sense is for SQL to decide (422).
func (s *Server) readArgs(info *requestWriter, r *http.Request, rt Route, tok string) ([]any, *apiError) {
	var bodyFields map[string]json.RawMessage
	if takes(rt, FromBody) {
		var e *apiError
		if bodyFields, e = readBody(r, rt); e != nil {
			return nil, e
		}
	}
	var formFields map[string]string
	if takes(rt, FromForm) {
		var e *apiError
		if formFields, e = readForm(info, r, rt); e != nil {
			return nil, e
		}
	}
	var q url.Values
	if takes(rt, FromQuery) {
		q = r.URL.Query()
	}
	all := make([]any, contextItems+len(rt.Args))
	s.contextArgs(info, r, tok, all[:contextItems])
	args := all[contextItems:]
	// Text over its Max (routes.go): every such field is named in one 422,
	// as SQL names every bad field; a field whose OverMax answers otherwise
	// (a login, a password, a cursor, a handle) is answered so, after the
	// 422s, as SQL validates the fields before it compares a password.
	var tooLong map[string]string
	var overMax *apiError
	refuse := func(a Arg) {
		if a.OverMax != nil {
			if overMax == nil {
				overMax = a.OverMax()
			}
			return
		}
		if tooLong == nil {
			tooLong = map[string]string{}
		}
		tooLong[a.Name] = a.TooLong
	}
	long := func(a Arg, v string) bool {
		if a.tooLong(v) {
			refuse(a)
			return true
		}
		return false
	}
	for i, a := range rt.Args {
		switch a.From {
		case FromQuery:
			v := q.Get(a.Name)
			if v == "" {
				continue // absent or empty: NULL
			}
			if a.Kind == Int {
				n, err := strconv.ParseInt(v, 10, 64)
				if err != nil {
					return nil, newError(400, "bad query parameter", map[string]string{a.Name: "must be an integer"})
				}
				args[i] = n
				continue
			}
			if e := checkText(a.Name, v); e != nil {
				return nil, e
			}
			if long(a, v) {
				continue
			}
			args[i] = v
		case FromPath:
			v := mux.Vars(r)[a.Name]
			if a.Kind == UUID {
				id, err := uuid.Parse(v)
				if err != nil || len(v) != 36 {
					return nil, newError(400, "bad path parameter", map[string]string{a.Name: "must be a UUID"})
				}
				args[i] = id.String()
				continue
			}
			if a.Kind == Text {
				if e := checkText(a.Name, v); e != nil {
					return nil, e
				}
				if long(a, v) {
					continue
				}
				args[i] = v
				continue
			}
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 1 {
				return nil, newError(400, "bad path parameter", map[string]string{a.Name: "must be a positive integer"})
			}
			args[i] = n
		case FromBody:
			raw, ok := bodyFields[a.Name]
			if !ok || string(raw) == "null" {
				continue // NULL
			}
			if a.Kind == Text && surelyTooLong(a, raw) {
				refuse(a) // a huge string is not decoded only to be refused
				continue
			}
			v, e := decodeField(a, raw)
			if e != nil {
				return nil, e
			}
			if text, ok := v.(string); ok && a.Kind == Text && long(a, text) {
				continue
			}
			args[i] = v
		case FromForm:
			v, ok := formFields[a.Name]
			if !ok {
				continue // absent: NULL (an empty value is "")
			}
			if e := checkText(a.Name, v); e != nil {
				return nil, e
			}
			if long(a, v) {
				continue
			}
			args[i] = v
		}
	}
	if tooLong != nil {
		message := "some parameters are invalid" // SQL's words for query parameters, and for fields:
		for _, a := range rt.Args {
			if _, ok := tooLong[a.Name]; ok && (a.From == FromBody || a.From == FromForm) {
				message = "some fields are invalid"
			}
		}
		return nil, newError(422, message, tooLong)
	}
	if overMax != nil {
		return nil, overMax
	}
	return all, nil
}

// takes says whether any of the route's arguments comes from src.
func takes(rt Route, src Source) bool {
	for _, a := range rt.Args {
		if a.From == src {
			return true
		}
	}
	return false
}

// readBody reads a JSON object of at most 1 MiB whose members are all
// arguments of the route.
func readBody(r *http.Request, rt Route) (map[string]json.RawMessage, *apiError) {
	if r.ContentLength == 0 && r.Header.Get("Content-Type") == "" {
		// No body at all (a bare DELETE, say): every field is absent, and SQL
		// names the required ones (422).
		return map[string]json.RawMessage{}, nil
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return nil, newError(415, "send the body as application/json", nil)
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, newError(400, "could not read the request body", nil)
	}
	if len(raw) > maxBody {
		return nil, newError(413, "the request body is larger than 1 MiB", nil)
	}
	if !utf8.Valid(raw) {
		return nil, newError(400, "the request body is not UTF-8", nil)
	}
	var fields map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&fields); err != nil || fields == nil || dec.More() {
		return nil, newError(400, "the request body must be one JSON object", nil)
	}
	unknown := map[string]string{}
	for name := range fields {
		if !hasArg(rt, FromBody, name) {
			unknown[name] = "unknown field"
		}
	}
	if len(unknown) > 0 {
		return nil, newError(400, "the request body has unknown fields", unknown)
	}
	return fields, nil
}

// The form bodies readForm takes: RFC 8058 has a one-click unsubscribe
// posted as either.
const (
	formURLEncoded = "application/x-www-form-urlencoded"
	formMultipart  = "multipart/form-data"
)

// readForm reads a form body of at most 1 MiB (urlencoded or multipart,
// without files) whose fields are all arguments of the route, each given
// once. No body at all: every field is absent.
func readForm(w http.ResponseWriter, r *http.Request, rt Route) (map[string]string, *apiError) {
	if r.ContentLength == 0 && r.Header.Get("Content-Type") == "" {
		return map[string]string{}, nil
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != formURLEncoded && mt != formMultipart) {
		return nil, newError(415, "send the body as "+formURLEncoded, nil)
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if mt == formMultipart {
		err = r.ParseMultipartForm(maxBody)
	} else {
		err = r.ParseForm()
	}
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, newError(413, "the request body is larger than 1 MiB", nil)
		}
		return nil, newError(400, "the request body is not a form", nil)
	}
	problems := map[string]string{}
	if r.MultipartForm != nil {
		defer r.MultipartForm.RemoveAll()
		for name := range r.MultipartForm.File {
			problems[name] = "unknown field"
		}
	}
	fields := map[string]string{}
	for name, vs := range r.PostForm {
		switch {
		case !hasArg(rt, FromForm, name):
			problems[name] = "unknown field"
		case len(vs) > 1:
			problems[name] = "given more than once"
		default:
			fields[name] = vs[0]
		}
	}
	if len(problems) > 0 {
		return nil, newError(400, "the request body has unknown or repeated fields", problems)
	}
	return fields, nil
}

// hasArg says whether the route takes an argument name from src.
func hasArg(rt Route, src Source, name string) bool {
	for _, a := range rt.Args {
		if a.From == src && a.Name == name {
			return true
		}
	}
	return false
}

func decodeField(a Arg, raw json.RawMessage) (any, *apiError) {
	switch a.Kind {
	case Number:
		return decodeNumber(a.Name, raw)
	case Int:
		var n int64
		if json.Unmarshal(raw, &n) != nil {
			return nil, newError(400, "wrong type", map[string]string{a.Name: "must be an integer"})
		}
		return n, nil
	default:
		var v string
		if json.Unmarshal(raw, &v) != nil {
			return nil, newError(400, "wrong type", map[string]string{a.Name: "must be a string"})
		}
		if e := checkText(a.Name, v); e != nil {
			return nil, e
		}
		return v, nil
	}
}

// surelyTooLong says, without decoding it, that the JSON string raw holds
// more than a.Max characters (or bytes): every character takes at most 12
// bytes of JSON (a surrogate pair of \u escapes), every byte at most 6 (one
// \u escape). Not for Trim: the whitespace SQL trims may be most of it.
func surelyTooLong(a Arg, raw json.RawMessage) bool {
	if a.Max == 0 || a.Trim || len(raw) < 2 || raw[0] != '"' {
		return false
	}
	per := 12
	if a.MaxBytes {
		per = 6
	}
	return (len(raw)-2)/per > a.Max
}

// maxNumber is the longest JSON number a Number argument takes, in characters.
const maxNumber = 1000

// decodeNumber takes a JSON number (not a string, not a bool) and answers its
// exact decimal text, which PostgreSQL reads as numeric: nothing is lost to
// float64. A number numeric cannot hold would fail the call with a bare 400,
// so it is refused here, naming the field: one longer than maxNumber, or
// whose magnitude is beyond float64's range (numeric's is wider, and the
// api functions set narrower bounds of their own).
func decodeNumber(name string, raw json.RawMessage) (any, *apiError) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	n, ok := json.Number(""), false
	if dec.Decode(&v) == nil {
		n, ok = v.(json.Number)
	}
	if !ok {
		return nil, newError(400, "wrong type", map[string]string{name: "must be a number"})
	}
	f, err := strconv.ParseFloat(string(n), 64) // only fails on overflow: the syntax is JSON's
	mantissa, _, _ := strings.Cut(strings.ToLower(string(n)), "e")
	underflow := f == 0 && strings.ContainsAny(mantissa, "123456789")
	if len(n) > maxNumber || err != nil || underflow {
		return nil, newError(400, "number out of range", map[string]string{name: "is out of range"})
	}
	return string(n), nil
}

// checkText refuses what PostgreSQL's text cannot hold, before it becomes a 500.
func checkText(name, v string) *apiError {
	if strings.ContainsRune(v, 0) {
		return newError(400, "text may not contain NUL characters", map[string]string{name: "contains a NUL character"})
	}
	if !utf8.ValidString(v) {
		return newError(400, "text must be UTF-8", map[string]string{name: "is not UTF-8"})
	}
	return nil
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// sessionToken takes the Bearer token, else the session cookie of that name.
func sessionToken(r *http.Request, cookie string) (tok string, fromCookie bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		if len(h) > 7 && strings.EqualFold(h[:7], "Bearer ") {
			return strings.TrimSpace(h[7:]), false
		}
		return "", false
	}
	if c, err := r.Cookie(cookie); err == nil && c.Value != "" {
		return c.Value, true
	}
	return "", false
}

// browserInfo is the User-Agent, capped: it is stored with each session and
// compared on every request, and real ones are far shorter.
func browserInfo(r *http.Request) string {
	ua := strings.ToValidUTF8(r.UserAgent(), "\uFFFD")
	ua = strings.ReplaceAll(ua, "\x00", "")
	if len(ua) > maxBrowser {
		ua = strings.ToValidUTF8(ua[:maxBrowser], "")
	}
	return ua
}

// sessionLogin is what a login's body (api.login) says of the new session.
type sessionLogin struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// loginOf reads a login's body; ok is false when it holds no token.
func loginOf(body []byte) (login sessionLogin, ok bool) {
	return login, json.Unmarshal(body, &login) == nil && login.Token != ""
}

func (s *Server) setSessionCookie(w http.ResponseWriter, body []byte) {
	login, ok := loginOf(body)
	if !ok {
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: cookieName(s.cfg.CookieSecure), Value: login.Token, Path: "/", // no Domain: host-only
		MaxAge:   max(1, int(time.Until(login.ExpiresAt).Seconds())),
		HttpOnly: true, Secure: s.cfg.CookieSecure, SameSite: http.SameSiteLaxMode,
	})
}

// sessionRefused says the token itself was refused, so the browser should
// drop its cookie; a wrong password on a valid session (INVALID_CREDENTIALS
// from change_password or delete_account) is not that.
func sessionRefused(e *apiError) bool {
	if e.status != http.StatusUnauthorized {
		return false
	}
	switch e.Code {
	case "INVALID", "EXPIRED", "BROWSER":
		return true
	}
	return false
}

func clearCookie(w http.ResponseWriter, secure bool) {
	http.SetCookie(w, &http.Cookie{
		Name: cookieName(secure), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode,
	})
}

// requestWriter is the ResponseWriter every handler writes to (it records
// the status written) and what the handlers, the access log and the metrics
// share about one request: as the writer, it reaches them without a copy of
// the *http.Request that a context value would cost.
type requestWriter struct {
	http.ResponseWriter
	id       string
	trace    string        // the trace id (trace.go)
	fn       string        // the route's api function
	dbTime   time.Duration // the time its call took (measured only for a span: otel.go)
	route    string        // the matched route's path template; "" when none matched
	sqlstate string
	err      error
	status   int  // overrides the written status in the log (statusClientClosed)
	written  int  // the status written (200 unless WriteHeader said otherwise)
	wrote    bool // a header or body went out
	client   string
	duration prometheus.Observer // the route's histogram; nil when no route matched
	usual    usualAnswer         // the route's counter of its usual answer (named)
	// proxyUser: the user a trusted proxy asserted (proxyUser); "" when none.
	proxyUser string
}

const statusClientClosed = 499

// writerOf is the request's requestWriter: the writer withRequestContext hands
// down, or a fresh one for a handler called without it (unit tests).
func writerOf(w http.ResponseWriter) *requestWriter {
	if ri, ok := w.(*requestWriter); ok {
		return ri
	}
	return &requestWriter{ResponseWriter: w, written: http.StatusOK}
}

func (ri *requestWriter) WriteHeader(code int) {
	if !ri.wrote {
		ri.written, ri.wrote = code, true
	}
	ri.ResponseWriter.WriteHeader(code)
}

// Unwrap is the server's writer, for http.ResponseController.
func (ri *requestWriter) Unwrap() http.ResponseWriter { return ri.ResponseWriter }

func (ri *requestWriter) Write(b []byte) (int, error) {
	ri.wrote = true
	return ri.ResponseWriter.Write(b)
}

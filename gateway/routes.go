package gateway

import (
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"
)

// Source says where an argument of an api function comes from. The
// request's context (token, User-Agent, client IP, request id) is not an
// argument of the route: every api function takes it first, as one
// request.context value (handler.go, contextItems).
type Source int

const (
	FromBody  Source = iota // a member of the JSON body object
	FromQuery               // a query-string parameter
	FromPath                // a {name} segment of the path
	// A field of a form body (application/x-www-form-urlencoded, or
	// multipart/form-data): the body of a route whose caller cannot send
	// JSON, as a mailbox provider's one-click unsubscribe (RFC 8058). A
	// route takes a JSON body or a form, never both. Text only.
	FromForm
)

// Kind is the JSON (or path, or query) type an argument must have; SQL
// receives it as text, bigint, uuid or numeric.
type Kind int

const (
	Text Kind = iota
	Int
	UUID // a path segment only: the canonical 8-4-4-4-12 form, else 400
	// A body member only: a JSON number (not a string, not a bool), passed to
	// SQL (numeric) as its exact decimal text, so nothing is lost to float64.
	Number
)

// Arg is one parameter of an api function after its context, in the function's order.
type Arg struct {
	Name string
	From Source
	Kind Kind
	// Max is the longest text the argument takes, in characters (Unicode
	// code points, as SQL's length counts them), or in bytes with MaxBytes;
	// 0: none (not text). The gateway refuses a longer value before the
	// call, so that no 100 kB value costs a lookup, a regular expression or
	// a bcrypt in the database: with a 422 VALIDATION naming the field, for
	// the reason TooLong (the words SQL uses for the field), or with what
	// OverMax answers.
	Max      int
	MaxBytes bool
	// Trim: the length is counted without surrounding whitespace, as SQL
	// counts it for this field (publishing.trim_text: a title, an excerpt).
	Trim    bool
	TooLong string
	// OverMax, when set, answers a value over Max instead of the 422: what
	// SQL answers for any value that long. A login or a password longer
	// than any account can have is a wrong one (401 INVALID_CREDENTIALS);
	// a cursor that long is not one of ours (400); a handle that long names
	// no user (404).
	OverMax func() *apiError
}

// trimmed is what SQL trims off a title or an excerpt (publishing.trim_text).
const trimmed = " \t\n\r\f\v\u00a0"

// tooLong says whether the text v is longer than the argument's Max.
func (a Arg) tooLong(v string) bool {
	if a.Max == 0 || len(v) <= a.Max {
		return false // a character is at least a byte
	}
	if a.MaxBytes {
		return true
	}
	if a.Trim {
		v = strings.Trim(v, trimmed)
	}
	return utf8.RuneCountInString(v) > a.Max
}

// upTo limits the argument to n characters; a longer value is a 422
// VALIDATION whose details give the field the reason.
func (a Arg) upTo(n int, reason string) Arg {
	a.Max, a.TooLong = n, reason
	return a
}

// atMost is upTo with SQL's usual reason, "must be at most n characters".
func (a Arg) atMost(n int) Arg {
	return a.upTo(n, fmt.Sprintf("must be at most %d characters", n))
}

// inBytes counts the argument's Max in bytes (a bcrypt password: 72).
func (a Arg) inBytes() Arg {
	a.MaxBytes = true
	return a
}

// trim counts the argument's length without surrounding whitespace.
func (a Arg) trim() Arg {
	a.Trim = true
	return a
}

// over answers a value over Max with f instead of the 422.
func (a Arg) over(f func() *apiError) Arg {
	a.OverMax = f
	return a
}

// The longest values SQL can accept, where the gateway's limit is not the
// field's own documented one.
const (
	// maxLogin: a login is a username (32) or an e-mail address (254).
	maxLogin = 254
	// maxPassword: bcrypt reads 72 bytes; sign-up refuses longer passwords,
	// and auth.password_matches never matches a longer one.
	maxPassword = 72
	// maxCursor: SQL makes cursors of about 60 characters and refuses any
	// over 200 (response.uncursor); the gateway's bound only keeps a huge
	// one away from the database, with room for the format to grow.
	maxCursor = 512
	// maxTime: dates, months, timestamps and time zones: the longest SQL
	// parses (an RFC 3339 timestamp with nanoseconds) is 35 characters,
	// publishing.parse_timestamp stops at 64, an IANA zone name is ~30.
	maxTime = 64
	// maxWord: the values of a closed list (a level, a bucket, an emotion, a
	// tracker type, a notification, a report format): 9 at most.
	maxWord = 32
	// maxSource: an audit source (the CHECK logs_source_format: 1-32).
	maxSource = 32
	// maxToken: a mailed token is 43 characters (auth.new_token); SQL does
	// not hash one over 64 (auth.take_token).
	maxToken = 64
)

// usernameRule is auth.account_problems' reason for a bad username.
const usernameRule = `must be 3 to 32 letters, digits, "_", "." or "-"`

// wrongPassword is auth.verify_password's answer to a wrong password.
func wrongPassword(message string) func() *apiError {
	return func() *apiError {
		e := newError(401, message, nil)
		e.Code = "INVALID_CREDENTIALS"
		return e
	}
}

// notACursor is response.uncursor's answer to a cursor it did not make.
func notACursor(name string) func() *apiError {
	return func() *apiError {
		return newError(400, "not a cursor from this route", map[string]string{name: "is not a cursor from this route"})
	}
}

// invalidToken is auth.invalid_token's answer: a value that long is no
// mailed token (they are 43 characters).
func invalidToken() *apiError {
	e := newError(400, "the link is not valid: it is unknown, used, replaced or expired", nil)
	hint := "ask for a new one"
	e.Code, e.Hint = "INVALID_TOKEN", &hint
	return e
}

// noSuchUser is api.user_activities' answer to a handle no account has.
func noSuchUser() *apiError { return newError(404, "no such user", nil) }

// cursor is a list's ?before=, the next of the page before.
func cursor(name string) Arg { return query(name).upTo(maxCursor, "").over(notACursor(name)) }

// The reasons SQL gives for the fields of a closed list, or of a given
// format, when the value is not one (sql/code/tracking, sql/code/api).
const (
	dateRule      = "must be a date, YYYY-MM-DD"
	timestampRule = "must be an RFC 3339 timestamp with a time zone, e.g. 2026-05-01T08:30:00Z"
	zoneRule      = "must be an IANA time zone, e.g. Europe/Berlin"
	boundRule     = "must be an RFC 3339 timestamp or a date, YYYY-MM-DD"             // tracker_series' from and to
	emotionRule   = "must be one of happy, calm, neutral, tired, anxious, sad, angry" // tracking.emotions()
)

// CookieEffect is what a successful call does to the session cookie.
type CookieEffect int

const (
	NoCookie    CookieEffect = iota
	SetCookie                // the body carries "token" and "expires_at"
	ClearCookie              // the session is gone
)

// Route maps one HTTP method and path onto one api function.
type Route struct {
	Method  string
	Path    string // under /api/v1, gorilla/mux syntax
	Summary string // one line for the OpenAPI document
	Func    string // the api function, schema-qualified; called as Func(ctx, Args...)
	Auth    bool   // a session token must be sent (401 UNAUTHENTICATED otherwise)
	Status  int    // status on success (a failure the function commits answers its own: response.fail)
	Cookie  CookieEffect
	Args    []Arg
	// ReadOnly: the function only reads (but for the session check's own
	// writes), so with REPLICA_DATABASE_URL the call goes to the replica and
	// is repeated on the primary when it has to write after all (replica.go).
	ReadOnly bool
	// Conflicts are the codes of the 409s the function raises, for the
	// OpenAPI document (the e2e suite checks every answer it gets against it).
	Conflicts []string
	// Bcrypt: the function hashes or verifies a password (bcrypt, tens of
	// milliseconds of a core), so the gateway caps how many such calls it
	// has in flight; the others keep their connections under a flood.
	Bcrypt bool
	// Limited: the function counts the caller's attempts and may answer 429
	// RATE_LIMITED with Retry-After (the limits are in SQL: docs/security.md).
	Limited bool
}

func body(name string) Arg     { return Arg{Name: name, From: FromBody} }
func query(name string) Arg    { return Arg{Name: name, From: FromQuery} }
func queryInt(name string) Arg { return Arg{Name: name, From: FromQuery, Kind: Int} }
func pathInt(name string) Arg  { return Arg{Name: name, From: FromPath, Kind: Int} }
func pathUUID(name string) Arg { return Arg{Name: name, From: FromPath, Kind: UUID} }
func pathText(name string) Arg { return Arg{Name: name, From: FromPath, Kind: Text} }
func form(name string) Arg     { return Arg{Name: name, From: FromForm} }

// bodyNumber is a body member that must be a JSON number (numeric in SQL).
func bodyNumber(name string) Arg { return Arg{Name: name, From: FromBody, Kind: Number} }

// APIPrefix is where every route of Routes lives.
const APIPrefix = "/api/v1"

// Routes is the gateway: every route of docs/api.md and the function it calls.
var Routes = []Route{
	// Accounts and sessions
	{Method: http.MethodGet, Path: "/availability", Func: "api.availability", Status: 200, Limited: true,
		Summary: "Whether a username and an e-mail address are free",
		Args:    []Arg{query("username").upTo(32, usernameRule), query("email").atMost(254)}},
	{Method: http.MethodPost, Path: "/accounts", Func: "api.signup", Status: 201, Bcrypt: true, Limited: true,
		Summary: "Create an account",
		Args: []Arg{body("username").upTo(32, usernameRule), body("email").atMost(254),
			body("password").upTo(maxPassword, "must be at most 72 bytes").inBytes(), body("display_name").atMost(64)},
		Conflicts: []string{"USERNAME_TAKEN", "EMAIL_TAKEN"}},
	{Method: http.MethodPost, Path: "/sessions", Func: "api.login", Status: 201, Cookie: SetCookie, Bcrypt: true, Limited: true,
		Summary: "Log in: a session token, also set as the session cookie",
		// Too long a login or password is a wrong one (401, as api.login answers
		// an unknown login), answered without the lookup or the bcrypt.
		Args: []Arg{body("login").upTo(maxLogin, "").over(wrongPassword("unknown login or wrong password")),
			body("password").upTo(maxPassword, "").inBytes().over(wrongPassword("unknown login or wrong password"))}},
	{Method: http.MethodGet, Path: "/session", Func: "api.current_session", ReadOnly: true, Auth: true, Status: 200,
		Summary: "The caller's account and session"},
	{Method: http.MethodDelete, Path: "/session", Func: "api.logout", Auth: true, Status: 204, Cookie: ClearCookie,
		Summary:   "Log out: delete the presented session",
		Conflicts: []string{"CONFLICT"}}, // a proxy-asserted identity has no session to end
	{Method: http.MethodGet, Path: "/sessions", Func: "api.list_sessions", ReadOnly: true, Auth: true, Status: 200,
		Summary: "The caller's sessions, newest first"},
	{Method: http.MethodDelete, Path: "/sessions/{id}", Func: "api.revoke_session", Auth: true, Status: 204,
		Summary: "Delete one of the caller's sessions",
		Args:    []Arg{pathInt("id")}},
	{Method: http.MethodDelete, Path: "/sessions", Func: "api.revoke_other_sessions", Auth: true, Status: 204,
		Summary: "Delete every session of the caller but the current one"},
	// Bcrypt and Limited: a new email is asked with the password, checked
	// and counted as a password change's (a display name alone is neither).
	{Method: http.MethodPatch, Path: "/account", Func: "api.update_account", Auth: true, Status: 200,
		Bcrypt: true, Limited: true,
		Summary: "Change the display name, or ask to change the e-mail address (with the password; confirmed by a mailed link)",
		Args: []Arg{body("display_name").atMost(64), body("email").atMost(254),
			body("password").upTo(maxPassword, "").inBytes().over(wrongPassword("the password is wrong"))},
		Conflicts: []string{"EMAIL_TAKEN"}},
	{Method: http.MethodPut, Path: "/account/password", Func: "api.change_password", Auth: true, Status: 204,
		Bcrypt: true, Limited: true,
		Summary: "Change the password; other sessions are deleted",
		Args: []Arg{body("current_password").upTo(maxPassword, "").inBytes().over(wrongPassword("the current password is wrong")),
			body("new_password").upTo(maxPassword, "must be at most 72 bytes").inBytes()}},
	{Method: http.MethodDelete, Path: "/account", Func: "api.delete_account", Auth: true, Status: 204, Cookie: ClearCookie,
		Bcrypt: true, Limited: true,
		Summary: "Delete the account and everything it owns",
		Args:    []Arg{body("password").upTo(maxPassword, "").inBytes().over(wrongPassword("the password is wrong"))}},

	// Mail: confirmations and password resets (sql/code/api/mail.sql)
	{Method: http.MethodPost, Path: "/email-confirmations", Func: "api.confirm_email", Status: 200,
		Summary:   "Confirm an address with the token of a mailed link (the account's, or its pending new one)",
		Args:      []Arg{body("token").upTo(maxToken, "").over(invalidToken)},
		Conflicts: []string{"EMAIL_TAKEN"}},
	{Method: http.MethodPost, Path: "/account/email-confirmation", Func: "api.resend_email_confirmation", Auth: true,
		Status: 202, Limited: true,
		Summary:   "Mail a fresh confirmation link (older links spent)",
		Conflicts: []string{"CONFLICT"}},
	{Method: http.MethodPost, Path: "/password-resets", Func: "api.request_password_reset", Status: 202, Limited: true,
		Summary: "Mail a password reset link, if an account has the address (the same answer either way)",
		Args:    []Arg{body("email").atMost(254)}},
	{Method: http.MethodPut, Path: "/password-resets", Func: "api.reset_password", Status: 204, Bcrypt: true, Limited: true,
		Summary: "Set a new password with the token of a reset link; every session of the account is deleted",
		Args: []Arg{body("token").upTo(maxToken, "").over(invalidToken),
			body("new_password").upTo(maxPassword, "must be at most 72 bytes").inBytes()}},
	// One-click unsubscribe (RFC 8058): what a mailbox provider posts, with
	// the form body List-Unsubscribe=One-Click, to the List-Unsubscribe URL
	// of a digest or report mail. No session: the token is the proof. A
	// GET of the URL is a 405: nothing acts on a GET (mail scanners fetch
	// links). The field's name is the RFC's; SQL's parameter is list_unsubscribe.
	{Method: http.MethodPost, Path: "/unsubscribe", Func: "api.unsubscribe", Status: 200, Limited: true,
		Summary: "One-click unsubscribe (RFC 8058): turn off the kind of mail (digest or report) the token came with",
		Args: []Arg{query("token").upTo(maxToken, "").over(invalidToken),
			form("List-Unsubscribe").upTo(maxWord, "must be One-Click")}},

	// Admin
	{Method: http.MethodGet, Path: "/admin/logs", Func: "api.admin_logs", Auth: true, Status: 200,
		Summary: "The audit log, newest first (admins only)",
		Args: []Arg{query("level").upTo(maxWord, "must be one of DEBUG, INFO, WARN, ERROR"), query("source").atMost(maxSource),
			queryInt("before"), queryInt("limit")}},

	// Publishing: posts (sql/code/api/posts.sql)
	{Method: http.MethodGet, Path: "/posts", Func: "api.list_posts", ReadOnly: true, Status: 200,
		Summary: "Blog posts, newest first, without their content",
		Args:    []Arg{cursor("before"), queryInt("limit")}},
	{Method: http.MethodGet, Path: "/posts/{id}", Func: "api.get_post", ReadOnly: true, Status: 200,
		Summary: "One blog post with its content",
		Args:    []Arg{pathInt("id")}},
	{Method: http.MethodPost, Path: "/posts", Func: "api.create_post", Auth: true, Status: 201,
		Summary: "Publish a post (role author or admin)",
		Args:    []Arg{body("title").atMost(200).trim(), body("content").atMost(100000), body("excerpt").atMost(300).trim()}},
	{Method: http.MethodPatch, Path: "/posts/{id}", Func: "api.update_post", Auth: true, Status: 200,
		Summary: "Change a post's title, content or excerpt (its author or an admin)",
		Args: []Arg{pathInt("id"), body("title").atMost(200).trim(), body("content").atMost(100000),
			body("excerpt").atMost(300).trim()}},
	{Method: http.MethodDelete, Path: "/posts/{id}", Func: "api.delete_post", Auth: true, Status: 204,
		Summary: "Delete a post (its author or an admin)",
		Args:    []Arg{pathInt("id")}},

	// Publishing: activity feed (sql/code/api/activities.sql)
	{Method: http.MethodGet, Path: "/activities", Func: "api.home_feed", ReadOnly: true, Status: 200,
		Summary: "The home feed: unexpired top-level activities, newest first",
		Args:    []Arg{cursor("before"), queryInt("limit")}},
	{Method: http.MethodPost, Path: "/activities", Func: "api.create_activity", Auth: true, Status: 201, Limited: true,
		Summary: "Post an activity (1-280 characters), optionally expiring",
		Args: []Arg{body("message").upTo(280, "must be 1 to 280 characters"),
			body("expires_at").upTo(maxTime, "must be a timestamp such as 2030-01-31T12:00:00Z")}},
	{Method: http.MethodGet, Path: "/activities/{uuid}", Func: "api.get_activity", ReadOnly: true, Status: 200,
		Summary: "One unexpired activity (its replies: GET /activities/{uuid}/replies)",
		Args:    []Arg{pathUUID("uuid")}},
	{Method: http.MethodGet, Path: "/activities/{uuid}/replies", Func: "api.list_replies", ReadOnly: true, Status: 200,
		Summary: "An unexpired activity's replies, oldest first, in keyset pages",
		Args:    []Arg{pathUUID("uuid"), cursor("before"), queryInt("limit")}},
	{Method: http.MethodDelete, Path: "/activities/{uuid}", Func: "api.delete_activity", Auth: true, Status: 204,
		Summary: "Delete an activity (its author only), with its replies, likes and reposts",
		Args:    []Arg{pathUUID("uuid")}},
	{Method: http.MethodPost, Path: "/activities/{uuid}/replies", Func: "api.reply_to_activity", Auth: true, Status: 201, Limited: true,
		Summary: "Reply to an unexpired activity",
		Args:    []Arg{pathUUID("uuid"), body("message").upTo(280, "must be 1 to 280 characters")}},
	{Method: http.MethodPut, Path: "/activities/{uuid}/like", Func: "api.like_activity", Auth: true, Status: 204,
		Summary: "Like an activity (idempotent)",
		Args:    []Arg{pathUUID("uuid")}},
	{Method: http.MethodDelete, Path: "/activities/{uuid}/like", Func: "api.unlike_activity", Auth: true, Status: 204,
		Summary: "Take back the caller's like (idempotent)",
		Args:    []Arg{pathUUID("uuid")}},
	{Method: http.MethodPost, Path: "/activities/{uuid}/reposts", Func: "api.repost_activity", Auth: true, Status: 201,
		Summary:   "Repost an activity (once per account; again: 409)",
		Args:      []Arg{pathUUID("uuid")},
		Conflicts: []string{"CONFLICT"}},
	{Method: http.MethodDelete, Path: "/activities/{uuid}/reposts", Func: "api.unrepost_activity", Auth: true, Status: 204,
		Summary: "Undo the caller's repost (idempotent)",
		Args:    []Arg{pathUUID("uuid")}},
	{Method: http.MethodGet, Path: "/users/{handle}/activities", Func: "api.user_activities", ReadOnly: true, Status: 200,
		Summary: "One author's unexpired activities and replies, newest first",
		Args:    []Arg{pathText("handle").upTo(32, "").over(noSuchUser), cursor("before"), queryInt("limit")}},

	// Tracking: goals (sql/code/api/goals.sql)
	{Method: http.MethodGet, Path: "/goals", Func: "api.list_goals", ReadOnly: true, Auth: true, Status: 200,
		Summary: "The caller's goals with progress and percent, open ones first, then by due date"},
	{Method: http.MethodPost, Path: "/goals", Func: "api.create_goal", Auth: true, Status: 201,
		Summary: "Create a goal",
		Args: []Arg{body("title").upTo(200, "must be 1 to 200 characters, not all blank"), body("description").atMost(2000),
			bodyNumber("target_amount"), body("unit").atMost(32), body("due_date").upTo(maxTime, dateRule)}},
	{Method: http.MethodGet, Path: "/goals/{id}", Func: "api.get_goal", ReadOnly: true, Auth: true, Status: 200,
		Summary: "One of the caller's goals with progress and percent",
		Args:    []Arg{pathInt("id")}},
	{Method: http.MethodPatch, Path: "/goals/{id}", Func: "api.update_goal", Auth: true, Status: 200,
		Summary: "Change one of the caller's goals",
		Args: []Arg{pathInt("id"), body("title").upTo(200, "must be 1 to 200 characters, not all blank"),
			body("description").atMost(2000), bodyNumber("target_amount"), body("unit").atMost(32),
			body("due_date").upTo(maxTime, dateRule)}},
	{Method: http.MethodDelete, Path: "/goals/{id}", Func: "api.delete_goal", Auth: true, Status: 204,
		Summary: "Delete one of the caller's goals and its entries",
		Args:    []Arg{pathInt("id")}},
	{Method: http.MethodGet, Path: "/goals/{id}/entries", Func: "api.list_goal_entries", ReadOnly: true, Auth: true, Status: 200,
		Summary: "A goal's entries, newest first",
		Args:    []Arg{pathInt("id"), cursor("before"), queryInt("limit")}},
	{Method: http.MethodPost, Path: "/goals/{id}/entries", Func: "api.create_goal_entry", Auth: true, Status: 201,
		Summary: "Add an entry to a goal",
		Args:    []Arg{pathInt("id"), bodyNumber("amount"), body("note").atMost(2000), body("occurred_at").upTo(maxTime, timestampRule)}},
	{Method: http.MethodPatch, Path: "/goals/{id}/entries/{entry_id}", Func: "api.update_goal_entry", Auth: true, Status: 200,
		Summary: "Change an entry of a goal",
		Args: []Arg{pathInt("id"), pathInt("entry_id"), bodyNumber("amount"), body("note").atMost(2000),
			body("occurred_at").upTo(maxTime, timestampRule)}},
	{Method: http.MethodDelete, Path: "/goals/{id}/entries/{entry_id}", Func: "api.delete_goal_entry", Auth: true, Status: 204,
		Summary: "Delete an entry of a goal",
		Args:    []Arg{pathInt("id"), pathInt("entry_id")}},

	// Tracking: trackers and logs (sql/code/api/trackers.sql)
	{Method: http.MethodGet, Path: "/trackers", Func: "api.list_trackers", ReadOnly: true, Auth: true, Status: 200,
		Summary: "The caller's trackers, most recently updated first, with log count and last log time"},
	{Method: http.MethodPost, Path: "/trackers", Func: "api.create_tracker", Auth: true, Status: 201,
		Summary: "Create a tracker (note or numerical)",
		Args: []Arg{body("name").upTo(100, "must be 1 to 100 characters, not all blank"), body("description").atMost(2000),
			body("type").upTo(maxWord, "must be note or numerical"), body("unit").atMost(32), body("what_to_track").atMost(200)},
		Conflicts: []string{"CONFLICT"}},
	{Method: http.MethodGet, Path: "/trackers/{id}", Func: "api.get_tracker", ReadOnly: true, Auth: true, Status: 200,
		Summary: "One of the caller's trackers",
		Args:    []Arg{pathInt("id")}},
	{Method: http.MethodPatch, Path: "/trackers/{id}", Func: "api.update_tracker", Auth: true, Status: 200,
		Summary: "Change one of the caller's trackers (not its type)",
		Args: []Arg{pathInt("id"), body("name").upTo(100, "must be 1 to 100 characters, not all blank"),
			body("description").atMost(2000), body("unit").atMost(32), body("what_to_track").atMost(200)},
		Conflicts: []string{"CONFLICT"}},
	{Method: http.MethodDelete, Path: "/trackers/{id}", Func: "api.delete_tracker", Auth: true, Status: 204,
		Summary: "Delete one of the caller's trackers and its logs",
		Args:    []Arg{pathInt("id")}},
	{Method: http.MethodGet, Path: "/trackers/{id}/logs", Func: "api.list_tracker_logs", ReadOnly: true, Auth: true, Status: 200,
		Summary: "A tracker's logs, newest first, optionally between from and to",
		Args: []Arg{pathInt("id"), query("from").upTo(maxTime, timestampRule), query("to").upTo(maxTime, timestampRule),
			cursor("before"), queryInt("limit")}},
	{Method: http.MethodPost, Path: "/trackers/{id}/logs", Func: "api.create_tracker_log", Auth: true, Status: 201,
		Summary: "Add a log to a tracker",
		Args: []Arg{pathInt("id"), bodyNumber("value"), body("note").atMost(10000), body("emotion").upTo(maxWord, emotionRule),
			body("event_reminder_msg").atMost(500), body("event_date").upTo(maxTime, dateRule),
			body("logged_at").upTo(maxTime, timestampRule)}},
	{Method: http.MethodPatch, Path: "/trackers/{id}/logs/{log_id}", Func: "api.update_tracker_log", Auth: true, Status: 200,
		Summary: "Change a log of a tracker",
		Args: []Arg{pathInt("id"), pathInt("log_id"), bodyNumber("value"), body("note").atMost(10000),
			body("emotion").upTo(maxWord, emotionRule), body("event_reminder_msg").atMost(500),
			body("event_date").upTo(maxTime, dateRule), body("logged_at").upTo(maxTime, timestampRule)}},
	{Method: http.MethodDelete, Path: "/trackers/{id}/logs/{log_id}", Func: "api.delete_tracker_log", Auth: true, Status: 204,
		Summary: "Delete a log of a tracker",
		Args:    []Arg{pathInt("id"), pathInt("log_id")}},
	{Method: http.MethodGet, Path: "/trackers/{id}/series", Func: "api.tracker_series", ReadOnly: true, Auth: true, Status: 200,
		Summary: "A tracker's logs per day, week or month in a time zone, empty buckets included",
		Args: []Arg{pathInt("id"), query("bucket").upTo(maxWord, "must be day, week or month"),
			query("from").upTo(maxTime, boundRule), query("to").upTo(maxTime, boundRule), query("tz").upTo(maxTime, zoneRule)}},

	// Tracking: reports, reminders and preferences (sql/code/api/reports.sql)
	{Method: http.MethodGet, Path: "/reports/monthly", Func: "api.monthly_report", ReadOnly: true, Auth: true, Status: 200,
		Summary: "The caller's monthly report: trackers, logs, the most used tracker, the frequent emotion, logins",
		Args:    []Arg{query("month").upTo(maxTime, "must be a month, YYYY-MM"), query("tz").upTo(maxTime, zoneRule)}},
	{Method: http.MethodGet, Path: "/reminders", Func: "api.reminders", ReadOnly: true, Auth: true, Status: 200,
		Summary: "The caller's logs with an event_date due by until (default: in 7 days), soonest first",
		Args:    []Arg{query("until").upTo(maxTime, "must be a date, YYYY-MM-DD, or an RFC 3339 timestamp")}},
	{Method: http.MethodGet, Path: "/account/preferences", Func: "api.get_preferences", ReadOnly: true, Auth: true, Status: 200,
		Summary: "The caller's notification and report preferences and time zone (defaults: weekly, html, UTC)"},
	{Method: http.MethodPut, Path: "/account/preferences", Func: "api.set_preferences", Auth: true, Status: 200,
		Summary: "Set the caller's notification (daily, weekly, none), report format (html, pdf, none) and time zone",
		Args: []Arg{body("notification").upTo(maxWord, "must be one of daily, weekly, none"),
			body("report_format").upTo(maxWord, "must be one of html, pdf, none"),
			body("timezone").upTo(maxTime, zoneRule)}},
}

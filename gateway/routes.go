package gateway

import "net/http"

// Source says where an argument of an api function comes from. The
// request's context (token, User-Agent, client IP, request id) is not an
// argument of the route: every api function takes it first, as one
// request.context value (handler.go, contextItems).
type Source int

const (
	FromBody  Source = iota // a member of the JSON body object
	FromQuery               // a query-string parameter
	FromPath                // a {name} segment of the path
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
}

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

// bodyNumber is a body member that must be a JSON number (numeric in SQL).
func bodyNumber(name string) Arg { return Arg{Name: name, From: FromBody, Kind: Number} }

// APIPrefix is where every route of Routes lives.
const APIPrefix = "/api/v1"

// Routes is the gateway: every route of API.md and the function it calls.
var Routes = []Route{
	// Accounts and sessions
	{Method: http.MethodGet, Path: "/availability", Func: "api.availability", Status: 200, Limited: true,
		Summary: "Whether a username and an e-mail address are free",
		Args:    []Arg{query("username"), query("email")}},
	{Method: http.MethodPost, Path: "/accounts", Func: "api.signup", Status: 201, Bcrypt: true, Limited: true,
		Summary:   "Create an account",
		Args:      []Arg{body("username"), body("email"), body("password"), body("display_name")},
		Conflicts: []string{"USERNAME_TAKEN", "EMAIL_TAKEN"}},
	{Method: http.MethodPost, Path: "/sessions", Func: "api.login", Status: 201, Cookie: SetCookie, Bcrypt: true, Limited: true,
		Summary: "Log in: a session token, also set as the session cookie",
		Args:    []Arg{body("login"), body("password")}},
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
	{Method: http.MethodPatch, Path: "/account", Func: "api.update_account", Auth: true, Status: 200,
		Summary:   "Change the display name or e-mail address",
		Args:      []Arg{body("display_name"), body("email")},
		Conflicts: []string{"EMAIL_TAKEN"}},
	{Method: http.MethodPut, Path: "/account/password", Func: "api.change_password", Auth: true, Status: 204,
		Bcrypt: true, Limited: true,
		Summary: "Change the password; other sessions are deleted",
		Args:    []Arg{body("current_password"), body("new_password")}},
	{Method: http.MethodDelete, Path: "/account", Func: "api.delete_account", Auth: true, Status: 204, Cookie: ClearCookie,
		Bcrypt: true, Limited: true,
		Summary: "Delete the account and everything it owns",
		Args:    []Arg{body("password")}},

	// Admin
	{Method: http.MethodGet, Path: "/admin/logs", Func: "api.admin_logs", Auth: true, Status: 200,
		Summary: "The audit log, newest first (admins only)",
		Args:    []Arg{query("level"), query("source"), queryInt("before"), queryInt("limit")}},

	// Publishing: posts (sql/code/api/posts.sql)
	{Method: http.MethodGet, Path: "/posts", Func: "api.list_posts", ReadOnly: true, Status: 200,
		Summary: "Blog posts, newest first, without their content",
		Args:    []Arg{query("before"), queryInt("limit")}},
	{Method: http.MethodGet, Path: "/posts/{id}", Func: "api.get_post", ReadOnly: true, Status: 200,
		Summary: "One blog post with its content",
		Args:    []Arg{pathInt("id")}},
	{Method: http.MethodPost, Path: "/posts", Func: "api.create_post", Auth: true, Status: 201,
		Summary: "Publish a post (role author or admin)",
		Args:    []Arg{body("title"), body("content"), body("excerpt")}},
	{Method: http.MethodPatch, Path: "/posts/{id}", Func: "api.update_post", Auth: true, Status: 200,
		Summary: "Change a post's title, content or excerpt (its author or an admin)",
		Args:    []Arg{pathInt("id"), body("title"), body("content"), body("excerpt")}},
	{Method: http.MethodDelete, Path: "/posts/{id}", Func: "api.delete_post", Auth: true, Status: 204,
		Summary: "Delete a post (its author or an admin)",
		Args:    []Arg{pathInt("id")}},

	// Publishing: activity feed (sql/code/api/activities.sql)
	{Method: http.MethodGet, Path: "/activities", Func: "api.home_feed", ReadOnly: true, Status: 200,
		Summary: "The home feed: unexpired top-level activities, newest first",
		Args:    []Arg{query("before"), queryInt("limit")}},
	{Method: http.MethodPost, Path: "/activities", Func: "api.create_activity", Auth: true, Status: 201, Limited: true,
		Summary: "Post an activity (1-280 characters), optionally expiring",
		Args:    []Arg{body("message"), body("expires_at")}},
	{Method: http.MethodGet, Path: "/activities/{uuid}", Func: "api.get_activity", ReadOnly: true, Status: 200,
		Summary: "One unexpired activity (its replies: GET /activities/{uuid}/replies)",
		Args:    []Arg{pathUUID("uuid")}},
	{Method: http.MethodGet, Path: "/activities/{uuid}/replies", Func: "api.list_replies", ReadOnly: true, Status: 200,
		Summary: "An unexpired activity's replies, oldest first, in keyset pages",
		Args:    []Arg{pathUUID("uuid"), query("before"), queryInt("limit")}},
	{Method: http.MethodDelete, Path: "/activities/{uuid}", Func: "api.delete_activity", Auth: true, Status: 204,
		Summary: "Delete an activity (its author only), with its replies, likes and reposts",
		Args:    []Arg{pathUUID("uuid")}},
	{Method: http.MethodPost, Path: "/activities/{uuid}/replies", Func: "api.reply_to_activity", Auth: true, Status: 201, Limited: true,
		Summary: "Reply to an unexpired activity",
		Args:    []Arg{pathUUID("uuid"), body("message")}},
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
		Args:    []Arg{pathText("handle"), query("before"), queryInt("limit")}},

	// Tracking: goals (sql/code/api/goals.sql)
	{Method: http.MethodGet, Path: "/goals", Func: "api.list_goals", ReadOnly: true, Auth: true, Status: 200,
		Summary: "The caller's goals with progress and percent, open ones first, then by due date"},
	{Method: http.MethodPost, Path: "/goals", Func: "api.create_goal", Auth: true, Status: 201,
		Summary: "Create a goal",
		Args:    []Arg{body("title"), body("description"), bodyNumber("target_amount"), body("unit"), body("due_date")}},
	{Method: http.MethodGet, Path: "/goals/{id}", Func: "api.get_goal", ReadOnly: true, Auth: true, Status: 200,
		Summary: "One of the caller's goals with progress and percent",
		Args:    []Arg{pathInt("id")}},
	{Method: http.MethodPatch, Path: "/goals/{id}", Func: "api.update_goal", Auth: true, Status: 200,
		Summary: "Change one of the caller's goals",
		Args: []Arg{pathInt("id"), body("title"), body("description"), bodyNumber("target_amount"), body("unit"),
			body("due_date")}},
	{Method: http.MethodDelete, Path: "/goals/{id}", Func: "api.delete_goal", Auth: true, Status: 204,
		Summary: "Delete one of the caller's goals and its entries",
		Args:    []Arg{pathInt("id")}},
	{Method: http.MethodGet, Path: "/goals/{id}/entries", Func: "api.list_goal_entries", ReadOnly: true, Auth: true, Status: 200,
		Summary: "A goal's entries, newest first",
		Args:    []Arg{pathInt("id"), query("before"), queryInt("limit")}},
	{Method: http.MethodPost, Path: "/goals/{id}/entries", Func: "api.create_goal_entry", Auth: true, Status: 201,
		Summary: "Add an entry to a goal",
		Args:    []Arg{pathInt("id"), bodyNumber("amount"), body("note"), body("occurred_at")}},
	{Method: http.MethodPatch, Path: "/goals/{id}/entries/{entry_id}", Func: "api.update_goal_entry", Auth: true, Status: 200,
		Summary: "Change an entry of a goal",
		Args:    []Arg{pathInt("id"), pathInt("entry_id"), bodyNumber("amount"), body("note"), body("occurred_at")}},
	{Method: http.MethodDelete, Path: "/goals/{id}/entries/{entry_id}", Func: "api.delete_goal_entry", Auth: true, Status: 204,
		Summary: "Delete an entry of a goal",
		Args:    []Arg{pathInt("id"), pathInt("entry_id")}},

	// Tracking: trackers and logs (sql/code/api/trackers.sql)
	{Method: http.MethodGet, Path: "/trackers", Func: "api.list_trackers", ReadOnly: true, Auth: true, Status: 200,
		Summary: "The caller's trackers, most recently updated first, with log count and last log time"},
	{Method: http.MethodPost, Path: "/trackers", Func: "api.create_tracker", Auth: true, Status: 201,
		Summary:   "Create a tracker (note or numerical)",
		Args:      []Arg{body("name"), body("description"), body("type"), body("unit"), body("what_to_track")},
		Conflicts: []string{"CONFLICT"}},
	{Method: http.MethodGet, Path: "/trackers/{id}", Func: "api.get_tracker", ReadOnly: true, Auth: true, Status: 200,
		Summary: "One of the caller's trackers",
		Args:    []Arg{pathInt("id")}},
	{Method: http.MethodPatch, Path: "/trackers/{id}", Func: "api.update_tracker", Auth: true, Status: 200,
		Summary:   "Change one of the caller's trackers (not its type)",
		Args:      []Arg{pathInt("id"), body("name"), body("description"), body("unit"), body("what_to_track")},
		Conflicts: []string{"CONFLICT"}},
	{Method: http.MethodDelete, Path: "/trackers/{id}", Func: "api.delete_tracker", Auth: true, Status: 204,
		Summary: "Delete one of the caller's trackers and its logs",
		Args:    []Arg{pathInt("id")}},
	{Method: http.MethodGet, Path: "/trackers/{id}/logs", Func: "api.list_tracker_logs", ReadOnly: true, Auth: true, Status: 200,
		Summary: "A tracker's logs, newest first, optionally between from and to",
		Args:    []Arg{pathInt("id"), query("from"), query("to"), query("before"), queryInt("limit")}},
	{Method: http.MethodPost, Path: "/trackers/{id}/logs", Func: "api.create_tracker_log", Auth: true, Status: 201,
		Summary: "Add a log to a tracker",
		Args: []Arg{pathInt("id"), bodyNumber("value"), body("note"), body("emotion"), body("event_reminder_msg"),
			body("event_date"), body("logged_at")}},
	{Method: http.MethodPatch, Path: "/trackers/{id}/logs/{log_id}", Func: "api.update_tracker_log", Auth: true, Status: 200,
		Summary: "Change a log of a tracker",
		Args: []Arg{pathInt("id"), pathInt("log_id"), bodyNumber("value"), body("note"), body("emotion"),
			body("event_reminder_msg"), body("event_date"), body("logged_at")}},
	{Method: http.MethodDelete, Path: "/trackers/{id}/logs/{log_id}", Func: "api.delete_tracker_log", Auth: true, Status: 204,
		Summary: "Delete a log of a tracker",
		Args:    []Arg{pathInt("id"), pathInt("log_id")}},
	{Method: http.MethodGet, Path: "/trackers/{id}/series", Func: "api.tracker_series", ReadOnly: true, Auth: true, Status: 200,
		Summary: "A tracker's logs per day, week or month in a time zone, empty buckets included",
		Args:    []Arg{pathInt("id"), query("bucket"), query("from"), query("to"), query("tz")}},

	// Tracking: reports, reminders and preferences (sql/code/api/reports.sql)
	{Method: http.MethodGet, Path: "/reports/monthly", Func: "api.monthly_report", ReadOnly: true, Auth: true, Status: 200,
		Summary: "The caller's monthly report: trackers, logs, the most used tracker, the frequent emotion, logins",
		Args:    []Arg{query("month"), query("tz")}},
	{Method: http.MethodGet, Path: "/reminders", Func: "api.reminders", ReadOnly: true, Auth: true, Status: 200,
		Summary: "The caller's logs with an event_date due by until (default: in 7 days), soonest first",
		Args:    []Arg{query("until")}},
	{Method: http.MethodGet, Path: "/account/preferences", Func: "api.get_preferences", ReadOnly: true, Auth: true, Status: 200,
		Summary: "The caller's notification and report preferences (defaults: weekly, html)"},
	{Method: http.MethodPut, Path: "/account/preferences", Func: "api.set_preferences", Auth: true, Status: 200,
		Summary: "Set the caller's notification (daily, weekly, none) and report format (html, pdf)",
		Args:    []Arg{body("notification"), body("report_format")}},
}

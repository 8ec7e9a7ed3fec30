package e2e

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// Posts: GET /posts (keyset pages), GET /posts/{id}, and POST, PATCH,
// DELETE with their role checks, over HTTP.

// setRole gives an account a role as a DBA does (scripts/db role), through auth.set_role.
func setRole(t *testing.T, u user, role string) {
	t.Helper()
	if _, err := owner.Exec(context.Background(), "SELECT auth.set_role($1, $2)", u.Username, role); err != nil {
		t.Fatal(err)
	}
}

// writer is an account with a role and a session.
type writer struct {
	user
	Token, UA string
}

func (g *testGateway) account(t *testing.T, role string) writer {
	t.Helper()
	u := g.signup(t)
	if role != "user" {
		setRole(t, u, role)
	}
	return writer{user: u, Token: g.login(t, u, "ua-"+role), UA: "ua-" + role}
}

// req is a request sent as the writer: its token, browser and IP.
func (w writer) req(method, path string, body any) req {
	return req{Method: method, Path: path, Body: body, Token: w.Token, UA: w.UA, IP: w.IP}
}

// createPost publishes a post as w and answers its JSON.
func (g *testGateway) createPost(t *testing.T, w writer, title, content string) map[string]any {
	t.Helper()
	r := g.do(w.req("POST", "/posts", map[string]any{"title": title, "content": content}))
	expect(t, r, 201, "")
	return obj(t, r.JSON(t), "post")
}

// postID is the id of a post JSON, for paths.
func postID(t *testing.T, p map[string]any) string {
	t.Helper()
	id, ok := p["id"].(float64)
	if !ok || id < 1 || id != float64(int64(id)) {
		t.Fatalf("post id %v is not a positive integer", p["id"])
	}
	return fmt.Sprint(int64(id))
}

// expectPost checks the post JSON's members and its author.
func expectPost(t *testing.T, p map[string]any, withContent bool, author user) {
	t.Helper()
	members := []string{"id", "title", "excerpt", "author", "date", "updated_at"}
	if withContent {
		members = append(members, "content")
	}
	expectKeys(t, "post", p, members...)
	postID(t, p)
	a := obj(t, p, "author")
	expectKeys(t, "post author", a, "username", "display_name")
	if a["username"] != author.Username || a["display_name"] != author.Username {
		t.Fatalf("post author %v, want %s (display name = username)", a, author.Username)
	}
	if timestamp(t, p["updated_at"]).Before(timestamp(t, p["date"])) {
		t.Fatalf("updated_at %v is before date %v", p["updated_at"], p["date"])
	}
}

func TestPostCreateAndRead(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	ben := g.account(t, "author")
	id := unique("posts-")
	before := time.Now()

	content := "# A title in Markdown\n\nSome *text*, kept exactly as sent.  \n"
	r := g.do(req{Method: "POST", Path: "/posts", Token: ben.Token, UA: "ua-author", IP: ben.IP,
		Headers: withRequestID(id + "-create"),
		Body:    map[string]any{"title": "  Hello over HTTP  ", "content": content}})
	expect(t, r, 201, "")
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
	body := r.JSON(t)
	expectKeys(t, "create answer", body, "post")
	p := obj(t, body, "post")
	expectPost(t, p, true, ben.user)
	if p["title"] != "Hello over HTTP" || p["content"] != content || p["excerpt"] != "# A title in Markdown Some *text*, kept exactly as sent." {
		t.Fatalf("post %v: want the title trimmed, the content as sent, the excerpt its start", p)
	}
	near(t, "date", timestamp(t, p["date"]), before, time.Minute)
	if p["date"] != p["updated_at"] {
		t.Fatalf("a new post's updated_at %v is not its date %v", p["updated_at"], p["date"])
	}
	row := expectLogged(t, id+"-create", "post created")[0]
	if row.Level != "INFO" || row.Source != "publishing" || row.AccountID == nil || *row.AccountID != int64(ben.ID) ||
		row.Details["post_id"] != p["id"] || row.Details["title"] != "Hello over HTTP" {
		t.Fatalf("post created row %+v", row)
	}

	// Anyone reads it, with or without a token.
	r = g.do(req{Method: "GET", Path: "/posts/" + postID(t, p)})
	expect(t, r, 200, "")
	got := r.JSON(t)
	expectKeys(t, "get answer", got, "post")
	if fmt.Sprint(obj(t, got, "post")) != fmt.Sprint(p) {
		t.Fatalf("GET /posts/{id} %v, want the created %v", got["post"], p)
	}
	expect(t, g.do(ben.req("GET", "/posts/"+postID(t, p), nil)), 200, "")

	// The list has it, without its content.
	found := false
	for _, q := range walkPosts(t, g, 100, nil) {
		if q["id"] == p["id"] {
			found = true
			expectPost(t, q, false, ben.user)
			if q["title"] != p["title"] || q["excerpt"] != p["excerpt"] || q["date"] != p["date"] {
				t.Fatalf("listed %v, want %v without content", q, p)
			}
		}
	}
	if !found {
		t.Fatalf("GET /posts does not list post %v", p["id"])
	}

	// A given excerpt is kept (trimmed); a long content without one gets the
	// default cut: at a word boundary, "…", at most 300 characters.
	r = g.do(ben.req("POST", "/posts", map[string]any{"title": "With excerpt", "content": "Body.", "excerpt": " Mine. "}))
	expect(t, r, 201, "")
	if e := obj(t, r.JSON(t), "post")["excerpt"]; e != "Mine." {
		t.Fatalf("excerpt %v, want the given one, trimmed", e)
	}
	long := strings.Repeat("naïve words ", 40)
	r = g.do(ben.req("POST", "/posts", map[string]any{"title": "Long", "content": long, "excerpt": ""}))
	expect(t, r, 201, "")
	e, _ := obj(t, r.JSON(t), "post")["excerpt"].(string)
	if n := utf8.RuneCountInString(e); n > 300 || n < 250 || !strings.HasSuffix(e, "words…") ||
		!strings.HasPrefix(long, strings.TrimSuffix(e, "…")) {
		t.Fatalf("default excerpt of a long content: %q (%d characters)", e, utf8.RuneCountInString(e))
	}
}

// walkPosts reads GET /posts page by page to the end and answers every post
// in the order served; between pages it calls between (if not nil).
func walkPosts(t *testing.T, g *testGateway, limit int, between func(page int)) []map[string]any {
	t.Helper()
	var all []map[string]any
	cursor := ""
	for page := 1; ; page++ {
		q := url.Values{"limit": {fmt.Sprint(limit)}}
		if cursor != "" {
			q.Set("before", cursor)
		}
		r := g.do(req{Method: "GET", Path: "/posts?" + q.Encode()})
		expect(t, r, 200, "")
		body := r.JSON(t)
		expectKeys(t, "list answer", body, "posts", "next")
		list, ok := body["posts"].([]any)
		if !ok {
			t.Fatalf("posts is %T, want an array", body["posts"])
		}
		if len(list) > limit {
			t.Fatalf("page %d has %d posts, more than the limit %d", page, len(list), limit)
		}
		for _, v := range list {
			all = append(all, v.(map[string]any))
		}
		if body["next"] == nil {
			return all
		}
		next, ok := body["next"].(string)
		if !ok || next == "" || len(list) != limit {
			t.Fatalf("page %d: next %v with %d posts; want a cursor only after a full page", page, body["next"], len(list))
		}
		cursor = next
		if between != nil {
			between(page)
		}
		if page > 10000 {
			t.Fatal("GET /posts does not end")
		}
	}
}

// Keyset pages: newest first, the id breaking ties, every post once even
// when posts are published between pages (they are newer: they never
// shift a later page).
func TestPostsPagination(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	ben := g.account(t, "author")
	// Five posts in the distant past (older than anything other tests
	// publish meanwhile), two of them at the same moment.
	base := time.Date(2001, 2, 3, 4, 5, 6, 789012000, time.UTC).Add(time.Duration(ipSeq.Add(1)%100000) * time.Hour)
	dates := []time.Time{base.Add(-3 * time.Hour), base.Add(-2 * time.Hour), base.Add(-2 * time.Hour), base.Add(-time.Hour), base}
	var mine []string
	for i, d := range dates {
		p := g.createPost(t, ben, fmt.Sprintf("page test %d", i), "content")
		if _, err := owner.Exec(context.Background(), "UPDATE publishing.posts SET created_at = $2 WHERE id = $1",
			int64(p["id"].(float64)), d); err != nil {
			t.Fatal(err)
		}
		mine = append(mine, postID(t, p))
	}
	// Newest first; on the same date the larger id first.
	want := []string{mine[4], mine[3], mine[2], mine[1], mine[0]}

	for _, limit := range []int{1, 2, 3, 100} {
		added := 0
		all := walkPosts(t, g, limit, func(page int) {
			if page <= 2 {
				g.createPost(t, ben, "published while paging", "content")
				added++
			}
		})
		seen := map[string]bool{}
		var got []string
		var prev time.Time
		for i, p := range all {
			id := postID(t, p)
			if seen[id] {
				t.Fatalf("limit %d: post %s served twice", limit, id)
			}
			seen[id] = true
			d := timestamp(t, p["date"])
			if i > 0 && d.After(prev) {
				t.Fatalf("limit %d: post %s (%s) after an older one (%s)", limit, id, d, prev)
			}
			prev = d
			for _, m := range mine {
				if id == m {
					got = append(got, id)
				}
			}
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("limit %d: my posts in the order %v, want %v", limit, got, want)
		}
		if limit < 100 && added == 0 {
			t.Fatalf("limit %d: the walk had a single page", limit)
		}
	}
}

// A signed cursor of another shape (a timestamp and a word) is refused, and
// so is another list's with an id like ours (a goal's entries). What every
// list refuses (limits, altered cursors, the other lists'): TestListPaging.
func TestPostsCursorShape(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	for _, q := range []string{"SELECT response.cursor('posts', now(), 'word')", "SELECT response.cursor('goal_entries', now(), '1')"} {
		var cursor string
		if err := owner.QueryRow(context.Background(), q).Scan(&cursor); err != nil {
			t.Fatal(err)
		}
		r := g.do(req{Method: "GET", Path: "/posts?before=" + cursor})
		expect(t, r, 400, "BAD_REQUEST")
		if d := details(t, r); d["before"] == "" {
			t.Fatalf("%s: details %v, want before", q, d)
		}
	}
}

func TestPostNotFound(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	ada := g.account(t, "admin")
	missing := "/posts/9223372036854775807"
	for _, rq := range []req{
		{Method: "GET", Path: missing},
		ada.req("GET", missing, nil),
		ada.req("PATCH", missing, map[string]any{"title": "x"}),
		ada.req("DELETE", missing, nil),
	} {
		r := g.do(rq)
		expect(t, r, 404, "NOT_FOUND")
		expectErrorBody(t, r)
	}
	for _, p := range []string{"/posts/0", "/posts/-1", "/posts/abc", "/posts/1.5", "/posts/99999999999999999999"} {
		r := g.do(req{Method: "GET", Path: p})
		expect(t, r, 400, "BAD_REQUEST")
		expectErrorBody(t, r)
	}
	expect(t, g.do(req{Method: "PUT", Path: "/posts/1"}), 405, "METHOD_NOT_ALLOWED")
}

// Who may write: POST authors and admins; PATCH and DELETE the post's author
// and admins. Without a token 401, with a bad one 401 INVALID.
func TestPostRoles(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	ben := g.account(t, "author")
	dot := g.account(t, "author")
	ada := g.account(t, "admin")
	cleo := g.account(t, "user")
	post := map[string]any{"title": "T", "content": "C"}

	r := g.do(cleo.req("POST", "/posts", post))
	expect(t, r, 403, "FORBIDDEN")
	expectErrorBody(t, r)
	expect(t, g.do(cleo.req("POST", "/posts", map[string]any{})), 403, "FORBIDDEN") // before validation
	r = g.do(req{Method: "POST", Path: "/posts", Body: post})
	expect(t, r, 401, "UNAUTHENTICATED")
	expectErrorBody(t, r)
	expect(t, g.do(req{Method: "POST", Path: "/posts", Body: post, Token: "not-a-token", UA: "ua"}), 401, "INVALID")
	expect(t, g.do(req{Method: "POST", Path: "/posts", Body: post, Token: ben.Token, UA: "another browser", IP: ben.IP}), 401, "BROWSER")
	ben.Token = g.login(t, ben.user, "ua-author")
	// A cookie alone from another site: CSRF.
	expect(t, g.do(req{Method: "POST", Path: "/posts", Body: post, UA: "ua-author", IP: ben.IP,
		Headers: withCookie(ben.Token, "Origin", "https://evil.example")}), 403, "CSRF")

	byAdmin := g.createPost(t, ada, "By the admin", "Content.")
	expectPost(t, byAdmin, true, ada.user)
	p := g.createPost(t, ben, "Ben's", "Ben's content.")
	path := "/posts/" + postID(t, p)

	// Another author and a plain user may not change or delete it.
	for _, w := range []writer{dot, cleo} {
		r := g.do(w.req("PATCH", path, map[string]any{"title": "Taken over"}))
		expect(t, r, 403, "FORBIDDEN")
		expectErrorBody(t, r)
		expect(t, g.do(w.req("PATCH", path, map[string]any{"title": ""})), 403, "FORBIDDEN") // before validation
		expect(t, g.do(w.req("DELETE", path, nil)), 403, "FORBIDDEN")
	}
	expect(t, g.do(req{Method: "PATCH", Path: path, Body: map[string]any{"title": "x"}}), 401, "UNAUTHENTICATED")
	expect(t, g.do(req{Method: "DELETE", Path: path}), 401, "UNAUTHENTICATED")
	expect(t, g.do(req{Method: "DELETE", Path: path, Token: "not-a-token", UA: "ua"}), 401, "INVALID")
	r = g.do(req{Method: "GET", Path: path})
	expect(t, r, 200, "")
	if got := obj(t, r.JSON(t), "post")["title"]; got != "Ben's" {
		t.Fatalf("the refused calls changed the post: title %v", got)
	}

	// The author and an admin may.
	r = g.do(ben.req("PATCH", path, map[string]any{"title": "Ben's, edited"}))
	expect(t, r, 200, "")
	expectKeys(t, "patch answer", r.JSON(t), "post")
	r = g.do(ada.req("PATCH", path, map[string]any{"content": "Moderated."}))
	expect(t, r, 200, "")
	if got := obj(t, r.JSON(t), "post"); got["title"] != "Ben's, edited" || got["content"] != "Moderated." {
		t.Fatalf("after both edits %v", got)
	} else {
		expectPost(t, got, true, ben.user) // still Ben's
	}
	// An author demoted to user still owns the post.
	setRole(t, ben.user, "user")
	expect(t, g.do(ben.req("PATCH", path, map[string]any{"title": "Still mine"})), 200, "")
	expect(t, g.do(ben.req("POST", "/posts", post)), 403, "FORBIDDEN")

	r = g.do(ada.req("DELETE", path, nil))
	expect(t, r, 204, "")
	if len(r.Body) != 0 {
		t.Fatalf("204 with a body: %s", r.Body)
	}
	expect(t, g.do(req{Method: "GET", Path: path}), 404, "NOT_FOUND")
	expect(t, g.do(ada.req("DELETE", "/posts/"+postID(t, byAdmin), nil)), 204, "")
}

func TestPostUpdateAndDelete(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	ben := g.account(t, "author")
	id := unique("posts-")
	p := g.createPost(t, ben, "Original", "First version of the content.")
	path := "/posts/" + postID(t, p)

	patch := func(rid string, body map[string]any) map[string]any {
		t.Helper()
		rq := ben.req("PATCH", path, body)
		rq.Headers = withRequestID(rid)
		r := g.do(rq)
		expect(t, r, 200, "")
		got := obj(t, r.JSON(t), "post")
		expectPost(t, got, true, ben.user)
		if got["id"] != p["id"] || got["date"] != p["date"] {
			t.Fatalf("PATCH changed the id or date: %v, was %v", got, p)
		}
		return got
	}

	time.Sleep(5 * time.Millisecond) // so that updated_at moves visibly
	got := patch(id+"-title", map[string]any{"title": " New title "})
	if got["title"] != "New title" || got["content"] != p["content"] || got["excerpt"] != p["excerpt"] {
		t.Fatalf("after a title change %v", got)
	}
	if !timestamp(t, got["updated_at"]).After(timestamp(t, p["updated_at"])) {
		t.Fatalf("updated_at %v did not move past %v", got["updated_at"], p["updated_at"])
	}
	row := expectLogged(t, id+"-title", "post updated")[0]
	if row.Source != "publishing" || row.Level != "INFO" || fmt.Sprint(row.Details["changed"]) != "[title]" ||
		row.Details["post_id"] != p["id"] || row.Details["author"] != ben.Username {
		t.Fatalf("post updated row %+v", row)
	}

	// A change to nothing: the same post, updated_at as it was, nothing logged.
	same := patch(id+"-same", map[string]any{"title": "New title"})
	if fmt.Sprint(same) != fmt.Sprint(got) {
		t.Fatalf("a change to the same title gave %v, want %v", same, got)
	}
	if fmt.Sprint(patch(id+"-empty", map[string]any{})) != fmt.Sprint(got) {
		t.Fatal("an empty PATCH changed the post")
	}
	expectLogged(t, id+"-same")
	expectLogged(t, id+"-empty")

	// The default excerpt follows the content; a written one stays until "" resets it.
	got = patch(id+"-content", map[string]any{"content": "Second version."})
	if got["excerpt"] != "Second version." {
		t.Fatalf("the default excerpt did not follow the content: %v", got["excerpt"])
	}
	got = patch(id+"-excerpt", map[string]any{"excerpt": "Written by hand."})
	if got["excerpt"] != "Written by hand." {
		t.Fatalf("excerpt %v", got["excerpt"])
	}
	got = patch(id+"-content2", map[string]any{"content": "Third version."})
	if got["excerpt"] != "Written by hand." || got["content"] != "Third version." {
		t.Fatalf("a written excerpt must stay when the content changes: %v", got)
	}
	got = patch(id+"-reset", map[string]any{"excerpt": ""})
	if got["excerpt"] != "Third version." {
		t.Fatalf(`"excerpt": "" must go back to the default excerpt: %v`, got["excerpt"])
	}
	// null is the same as absent.
	got = patch(id+"-null", map[string]any{"title": nil, "content": nil, "excerpt": nil})
	if got["title"] != "New title" || got["excerpt"] != "Third version." {
		t.Fatalf("nulls changed the post: %v", got)
	}

	// Validation: 422 with each bad field.
	for _, c := range []struct {
		body   map[string]any
		fields []string
	}{
		{map[string]any{"title": ""}, []string{"title"}},
		{map[string]any{"title": " \t\n "}, []string{"title"}},
		{map[string]any{"title": strings.Repeat("t", 201)}, []string{"title"}},
		{map[string]any{"content": "  "}, []string{"content"}},
		{map[string]any{"content": strings.Repeat("c", 100001)}, []string{"content"}},
		{map[string]any{"excerpt": strings.Repeat("é", 301)}, []string{"excerpt"}},
		{map[string]any{"title": "", "content": "", "excerpt": "e"}, []string{"title", "content"}},
		// Over their maximum, fields are refused by the gateway before the
		// call: the 422 names those (not the blank content, which SQL names).
		{map[string]any{"title": strings.Repeat("t", 201), "content": "", "excerpt": strings.Repeat("e", 301)},
			[]string{"title", "excerpt"}},
	} {
		r := g.do(ben.req("PATCH", path, c.body))
		expect(t, r, 422, "VALIDATION")
		expectErrorBody(t, r)
		d := details(t, r)
		if len(d) != len(c.fields) {
			t.Fatalf("PATCH %.60v: details %v, want %v", c.body, d, c.fields)
		}
		for _, f := range c.fields {
			if d[f] == "" {
				t.Fatalf("PATCH %.60v: details %v, want %v", c.body, d, c.fields)
			}
		}
	}
	for _, body := range []any{map[string]any{"title": 5}, map[string]any{"author": "someone"}, map[string]any{"id": 1}, "[1]", "{"} {
		r := g.do(ben.req("PATCH", path, body))
		expect(t, r, 400, "BAD_REQUEST")
		expectErrorBody(t, r)
	}

	rq := ben.req("DELETE", path, nil)
	rq.Headers = withRequestID(id + "-delete")
	expect(t, g.do(rq), 204, "")
	row = expectLogged(t, id+"-delete", "post deleted")[0]
	if row.Source != "publishing" || row.Level != "INFO" || row.Details["post_id"] != p["id"] ||
		row.Details["title"] != "New title" || row.Details["author"] != ben.Username {
		t.Fatalf("post deleted row %+v", row)
	}
	expect(t, g.do(req{Method: "GET", Path: path}), 404, "NOT_FOUND")
	expect(t, g.do(ben.req("DELETE", path, nil)), 404, "NOT_FOUND")
	expect(t, g.do(ben.req("PATCH", path, map[string]any{"title": "x"})), 404, "NOT_FOUND")
}

func TestPostCreateValidation(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	ben := g.account(t, "author")
	for _, c := range []struct {
		name   string
		body   map[string]any
		fields []string
	}{
		{"nothing", map[string]any{}, []string{"title", "content"}},
		{"no title", map[string]any{"content": "c"}, []string{"title"}},
		{"null content", map[string]any{"title": "t", "content": nil}, []string{"content"}},
		{"empty title", map[string]any{"title": "", "content": "c"}, []string{"title"}},
		{"title of spaces", map[string]any{"title": "     ", "content": "c"}, []string{"title"}},
		{"title of 201 characters", map[string]any{"title": strings.Repeat("ü", 201), "content": "c"}, []string{"title"}},
		{"blank content", map[string]any{"title": "t", "content": "\n\n"}, []string{"content"}},
		{"content of 100001 characters", map[string]any{"title": "t", "content": strings.Repeat("c", 100001)}, []string{"content"}},
		{"excerpt of 301 characters", map[string]any{"title": "t", "content": "c", "excerpt": strings.Repeat("e", 301)}, []string{"excerpt"}},
	} {
		r := g.do(ben.req("POST", "/posts", c.body))
		if r.Status != 422 || r.Code(t) != "VALIDATION" {
			t.Fatalf("%s: %d %.200s, want 422 VALIDATION", c.name, r.Status, r.Body)
		}
		expectErrorBody(t, r)
		d := details(t, r)
		if len(d) != len(c.fields) {
			t.Fatalf("%s: details %v, want %v", c.name, d, c.fields)
		}
		for _, f := range c.fields {
			if d[f] == "" {
				t.Fatalf("%s: details %v, want %v", c.name, d, c.fields)
			}
		}
	}
	// The limits themselves are accepted.
	r := g.do(ben.req("POST", "/posts", map[string]any{"title": strings.Repeat("ü", 200),
		"content": strings.Repeat("c", 100000), "excerpt": strings.Repeat("e", 300)}))
	expect(t, r, 201, "")
	for _, body := range []any{map[string]any{"title": 1, "content": "c"}, map[string]any{"title": "t", "content": "c", "date": "2020-01-01"},
		map[string]any{"title": "t", "content": "a\u0000b"}, "not json"} {
		r := g.do(ben.req("POST", "/posts", body))
		expect(t, r, 400, "BAD_REQUEST")
		expectErrorBody(t, r)
	}
	rq := ben.req("POST", "/posts", "title=t")
	rq.Headers = map[string]string{"Content-Type": "text/plain"}
	expect(t, g.do(rq), 415, "UNSUPPORTED_MEDIA_TYPE")
}

// Deleting an account deletes its posts.
func TestPostsGoWithTheAccount(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	ben := g.account(t, "author")
	p := g.createPost(t, ben, "Soon gone", "Content.")
	expect(t, g.do(ben.req("DELETE", "/account", map[string]any{"password": ben.Password})), 204, "")
	expect(t, g.do(req{Method: "GET", Path: "/posts/" + postID(t, p)}), 404, "NOT_FOUND")
}

// scripts/db role USERNAME ROLE, as a DBA runs it, on the test database:
// the role is set and logged with the database user, the values reach SQL
// as psql variables (a quote in them is data, not SQL), and an unknown
// account or role fails without a change.
func TestScriptsDBRole(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(ownerURL)
	if err != nil {
		t.Fatal(err)
	}
	db := strings.TrimPrefix(u.Path, "/")
	run := func(args ...string) (string, error) {
		cmd := exec.Command("bash", append([]string{"../../scripts/db", "role"}, args...)...)
		cmd.Env = append(os.Environ(), "DB_NAME="+db)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	g := startGateway(t, nil)
	cleo := g.signup(t)
	tok := g.login(t, cleo, "ua")

	out, err := run(strings.ToUpper(cleo.Username), "author")
	if err != nil {
		t.Fatalf("scripts/db role: %v\n%s", err, out)
	}
	if !strings.Contains(out, `"from" : "user", "to" : "author"`) {
		t.Fatalf("scripts/db role printed %q, want from user to author", out)
	}
	var by string
	if err := owner.QueryRow(context.Background(), `
		SELECT details->>'by' FROM audit.logs
		 WHERE account_id = $1 AND message = 'role changed' AND details->>'to' = 'author'`, int64(cleo.ID)).Scan(&by); err != nil {
		t.Fatalf("no role changed row: %v", err)
	}
	if by == "" {
		t.Fatal("the role changed row does not say by whom")
	}
	// The new role is in force at once.
	expect(t, g.do(req{Method: "POST", Path: "/posts", Token: tok, UA: "ua", IP: cleo.IP,
		Body: map[string]any{"title": "Now an author", "content": "Yes."}}), 201, "")

	for _, c := range []struct{ args []string }{
		{[]string{"no_such_user_" + unique(""), "admin"}},
		{[]string{cleo.Username + "'; UPDATE auth.accounts SET role = 'admin'; --", "admin"}},
		{[]string{cleo.Username, "king"}},
		{[]string{cleo.Username, "admin'); SELECT ('"}},
		{[]string{cleo.Username}},
	} {
		if out, err := run(c.args...); err == nil {
			t.Fatalf("scripts/db role %q succeeded: %s", c.args, out)
		}
	}
	var role string
	if err := owner.QueryRow(context.Background(), "SELECT role FROM auth.accounts WHERE id = $1", int64(cleo.ID)).Scan(&role); err != nil {
		t.Fatal(err)
	}
	if role != "author" {
		t.Fatalf("after the refused calls the role is %q, want author", role)
	}
}

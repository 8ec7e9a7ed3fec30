package e2e

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// The activity feed over HTTP: every route and error code, expiry, deletion
// (of an activity and of an account) and the counters under real concurrent
// requests.

// poster is an account with a session, made behind the API's back (no
// bcrypt per account), for tests that need many.
type poster struct {
	ID       int64
	Username string
	Token    string
}

const posterUA = "feed-test/1"

// posters creates n accounts, each with a session for posterUA.
func (g *testGateway) posters(t *testing.T, n int) []poster {
	t.Helper()
	ctx := context.Background()
	prefix := unique("f_")
	rows, err := owner.Query(ctx, `
		WITH a AS (
		  INSERT INTO auth.accounts (username, email, password_hash)
		  SELECT $1 || '_' || i, $1 || '_' || i || '@example.com', auth.dummy_password_hash()
		    FROM generate_series(1, $2::int) i
		  RETURNING id, username::text)
		SELECT id, username FROM a ORDER BY id`, prefix, n)
	if err != nil {
		t.Fatal(err)
	}
	var out []poster
	for rows.Next() {
		var p poster
		if err := rows.Scan(&p.ID, &p.Username); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	for i := range out {
		if err := owner.QueryRow(ctx, "SELECT auth.create_account_session($1, $2)", out[i].Username, posterUA).
			Scan(&out[i].Token); err != nil {
			t.Fatal(err)
		}
		g.secrets.add(out[i].Token)
	}
	return out
}

// as sends r with p's token and browser.
func (g *testGateway) as(p poster, r req) resp {
	g.t.Helper()
	r.Token, r.UA = p.Token, posterUA
	return g.do(r)
}

// postActivity creates an activity and returns its JSON.
func (g *testGateway) postActivity(t *testing.T, p poster, body map[string]any) map[string]any {
	t.Helper()
	r := g.as(p, req{Method: "POST", Path: "/activities", Body: body})
	expect(t, r, 201, "")
	return obj(t, r.JSON(t), "activity")
}

// activity is GET /activities/{uuid}'s "activity".
func (g *testGateway) activity(t *testing.T, id string) map[string]any {
	t.Helper()
	r := g.do(req{Method: "GET", Path: "/activities/" + id})
	expect(t, r, 200, "")
	return obj(t, r.JSON(t), "activity")
}

// counts are an activity's three counters as read over HTTP.
func (g *testGateway) counts(t *testing.T, id string) (likes, reposts, replies int) {
	t.Helper()
	a := g.activity(t, id)
	return int(a["likes_count"].(float64)), int(a["reposts_count"].(float64)), int(a["replies_count"].(float64))
}

// rowCount counts rows of a table of schema publishing for one activity, as the owner.
func rowCount(t *testing.T, table, id string) int {
	t.Helper()
	var n int
	if err := owner.QueryRow(context.Background(),
		fmt.Sprintf("SELECT count(*) FROM publishing.%s WHERE activity_uuid = $1", table), id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func expectActivity(t *testing.T, a map[string]any, message, handle string) {
	t.Helper()
	expectKeys(t, "activity", a, "uuid", "message", "author", "replies_count", "reposts_count", "likes_count",
		"reply_to_activity_uuid", "expires_at", "created_at")
	if a["message"] != message {
		t.Fatalf("message %v, want %q", a["message"], message)
	}
	au := obj(t, a, "author")
	expectKeys(t, "author", au, "handle", "display_name")
	if au["handle"] != handle {
		t.Fatalf("handle %v, want %q", au["handle"], handle)
	}
	timestamp(t, a["created_at"])
}

func messagesOf(t *testing.T, r resp) []string {
	t.Helper()
	list, ok := r.JSON(t)["activities"].([]any)
	if !ok {
		t.Fatalf("activities is not a list: %s", r.Body)
	}
	var out []string
	for _, v := range list {
		out = append(out, v.(map[string]any)["message"].(string))
	}
	return out
}

func TestActivityRoutes(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	ps := g.posters(t, 3)
	ann, bob, cy := ps[0], ps[1], ps[2]

	// POST /activities: 201 {"activity"}; expires_at is optional.
	a := g.postActivity(t, ann, map[string]any{"message": "Hello, feed ✓"})
	expectActivity(t, a, "Hello, feed ✓", ann.Username)
	if a["reply_to_activity_uuid"] != nil || a["expires_at"] != nil || a["likes_count"] != 0.0 {
		t.Fatalf("new activity %v", a)
	}
	id := a["uuid"].(string)
	exp := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	e := g.postActivity(t, ann, map[string]any{"message": "for two days", "expires_at": exp.Format(time.RFC3339)})
	if got := timestamp(t, e["expires_at"]); !got.Equal(exp) {
		t.Fatalf("expires_at %v, want %v", got, exp)
	}
	long := strings.Repeat("é", 280)
	g.postActivity(t, bob, map[string]any{"message": long})

	// Validation: 422 with a per-field detail, never a 500 or a cast's 400.
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{}, "message"},
		{map[string]any{"message": ""}, "message"},
		{map[string]any{"message": " \n\t "}, "message"},
		{map[string]any{"message": long + "x"}, "message"},
		{map[string]any{"message": "x", "expires_at": "soon"}, "expires_at"},
		{map[string]any{"message": "x", "expires_at": "2030-13-45T00:00:00Z"}, "expires_at"},
		{map[string]any{"message": "x", "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"},
	} {
		r := g.as(ann, req{Method: "POST", Path: "/activities", Body: c.body})
		expect(t, r, 422, "VALIDATION")
		expectErrorBody(t, r)
		if d := details(t, r); d[c.field] == "" || len(d) != 1 {
			t.Fatalf("%v: details %v, want one reason for %s", c.body, d, c.field)
		}
	}
	expect(t, g.as(ann, req{Method: "POST", Path: "/activities", Body: map[string]any{"message": 5}}), 400, "BAD_REQUEST")
	expect(t, g.do(req{Method: "POST", Path: "/activities", Body: map[string]any{"message": "x"}}), 401, "UNAUTHENTICATED")

	// Replies: 201, the parent's replies_count follows, listed oldest first.
	r := g.as(bob, req{Method: "POST", Path: "/activities/" + id + "/replies", Body: map[string]any{"message": "first reply"}})
	expect(t, r, 201, "")
	reply := obj(t, r.JSON(t), "activity")
	expectActivity(t, reply, "first reply", bob.Username)
	if reply["reply_to_activity_uuid"] != id {
		t.Fatalf("reply_to_activity_uuid %v, want %s", reply["reply_to_activity_uuid"], id)
	}
	expect(t, g.as(cy, req{Method: "POST", Path: "/activities/" + id + "/replies", Body: map[string]any{"message": "second reply"}}), 201, "")
	expect(t, g.as(cy, req{Method: "POST", Path: "/activities/" + id + "/replies", Body: map[string]any{"message": ""}}), 422, "VALIDATION")
	r = g.do(req{Method: "GET", Path: "/activities/" + id})
	expect(t, r, 200, "")
	expectKeys(t, "activity answer", r.JSON(t), "activity")
	r = g.do(req{Method: "GET", Path: "/activities/" + id + "/replies"})
	expect(t, r, 200, "")
	body := r.JSON(t)
	expectKeys(t, "replies answer", body, "replies", "next")
	replies := body["replies"].([]any)
	if len(replies) != 2 || replies[0].(map[string]any)["message"] != "first reply" || replies[1].(map[string]any)["message"] != "second reply" ||
		body["next"] != nil {
		t.Fatalf("replies %v (next %v), want first then second, no next", replies, body["next"])
	}
	if _, _, n := g.counts(t, id); n != 2 {
		t.Fatalf("replies_count %d, want 2", n)
	}

	// The home feed holds top-level activities only; the author's feed holds replies too.
	r = g.do(req{Method: "GET", Path: "/activities?limit=100"})
	expect(t, r, 200, "")
	expectKeys(t, "feed", r.JSON(t), "activities", "next")
	for _, m := range messagesOf(t, r) {
		if m == "first reply" {
			t.Fatal("a reply is in the home feed")
		}
	}
	r = g.do(req{Method: "GET", Path: "/users/" + strings.ToUpper(bob.Username) + "/activities"})
	expect(t, r, 200, "")
	if got := messagesOf(t, r); len(got) != 2 || got[0] != "first reply" || got[1] != long {
		t.Fatalf("bob's feed %q", got)
	}
	expect(t, g.do(req{Method: "GET", Path: "/users/" + unique("nobody_") + "/activities"}), 404, "NOT_FOUND")
	expect(t, g.do(req{Method: "GET", Path: "/users/" + bob.Username + "/activities?limit=0"}), 422, "VALIDATION")
	expect(t, g.do(req{Method: "GET", Path: "/users/" + bob.Username + "/activities?before=nope"}), 400, "BAD_REQUEST")

	// Likes: 204 and idempotent both ways.
	for i := 0; i < 3; i++ {
		expect(t, g.as(bob, req{Method: "PUT", Path: "/activities/" + id + "/like"}), 204, "")
	}
	expect(t, g.as(cy, req{Method: "PUT", Path: "/activities/" + id + "/like"}), 204, "")
	if l, _, _ := g.counts(t, id); l != 2 {
		t.Fatalf("likes_count %d after bob ×3 and cy, want 2", l)
	}
	for i := 0; i < 2; i++ {
		expect(t, g.as(cy, req{Method: "DELETE", Path: "/activities/" + id + "/like"}), 204, "")
	}
	expect(t, g.as(ann, req{Method: "DELETE", Path: "/activities/" + id + "/like"}), 204, "")
	if l, _, _ := g.counts(t, id); l != 1 || rowCount(t, "likes", id) != 1 {
		t.Fatalf("likes_count %d (rows %d) after unlikes, want 1", l, rowCount(t, "likes", id))
	}

	// Reposts: 201 once, then 409 CONFLICT with the count unchanged; DELETE undoes, idempotent.
	r = g.as(bob, req{Method: "POST", Path: "/activities/" + id + "/reposts"})
	expect(t, r, 201, "")
	if n := obj(t, r.JSON(t), "activity")["reposts_count"]; n != 1.0 {
		t.Fatalf("reposts_count %v after one repost", n)
	}
	r = g.as(bob, req{Method: "POST", Path: "/activities/" + id + "/reposts"})
	expect(t, r, 409, "CONFLICT")
	expectErrorBody(t, r)
	if _, n, _ := g.counts(t, id); n != 1 {
		t.Fatalf("reposts_count %d after a refused second repost, want 1", n)
	}
	expect(t, g.as(bob, req{Method: "DELETE", Path: "/activities/" + id + "/reposts"}), 204, "")
	expect(t, g.as(bob, req{Method: "DELETE", Path: "/activities/" + id + "/reposts"}), 204, "")
	if _, n, _ := g.counts(t, id); n != 0 {
		t.Fatalf("reposts_count %d after undoing, want 0", n)
	}
	expect(t, g.as(cy, req{Method: "POST", Path: "/activities/" + id + "/reposts"}), 201, "")

	// Every route with a {uuid}: a malformed one is a 400, a missing one a 404.
	missing := "00000000-0000-4000-8000-000000000000"
	uuidRoutes := []req{
		{Method: "GET", Path: "/activities/%s"},
		{Method: "GET", Path: "/activities/%s/replies"},
		{Method: "DELETE", Path: "/activities/%s"},
		{Method: "POST", Path: "/activities/%s/replies", Body: map[string]any{"message": "x"}},
		{Method: "PUT", Path: "/activities/%s/like"},
		{Method: "DELETE", Path: "/activities/%s/like"},
		{Method: "POST", Path: "/activities/%s/reposts"},
		{Method: "DELETE", Path: "/activities/%s/reposts"},
	}
	for _, rr := range uuidRoutes {
		for _, bad := range []string{"123", "not-a-uuid", strings.ToUpper(id) + "0", strings.ReplaceAll(id, "-", "")} {
			q := rr
			q.Path = fmt.Sprintf(rr.Path, url.PathEscape(bad))
			res := g.as(ann, q)
			expect(t, res, 400, "BAD_REQUEST")
			if d := details(t, res); d["uuid"] == "" {
				t.Fatalf("%s %s: details %v", q.Method, q.Path, d)
			}
		}
		q := rr
		q.Path = fmt.Sprintf(rr.Path, missing)
		expect(t, g.as(ann, q), 404, "NOT_FOUND")
	}

	mine := g.posters(t, 1)[0]

	// Expiry: gone from every listing and from GET the moment it passes.
	ex := g.postActivity(t, mine, map[string]any{"message": "expiring", "expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano)})
	exID := ex["uuid"].(string)
	r = g.as(bob, req{Method: "POST", Path: "/activities/" + exID + "/replies", Body: map[string]any{"message": "reply to expiring"}})
	expect(t, r, 201, "")
	if obj(t, r.JSON(t), "activity")["expires_at"] != ex["expires_at"] {
		t.Fatalf("the reply expires at %v, want its parent's %v", obj(t, r.JSON(t), "activity")["expires_at"], ex["expires_at"])
	}
	if _, err := owner.Exec(context.Background(), `UPDATE publishing.activities SET expires_at = now() - interval '1 ms'
		WHERE uuid = $1 OR reply_to_activity_uuid = $1`, exID); err != nil {
		t.Fatal(err)
	}
	expect(t, g.do(req{Method: "GET", Path: "/activities/" + exID}), 404, "NOT_FOUND")
	expect(t, g.do(req{Method: "GET", Path: "/activities/" + exID + "/replies"}), 404, "NOT_FOUND")
	expect(t, g.as(bob, req{Method: "POST", Path: "/activities/" + exID + "/replies", Body: map[string]any{"message": "late"}}), 404, "NOT_FOUND")
	expect(t, g.as(bob, req{Method: "PUT", Path: "/activities/" + exID + "/like"}), 404, "NOT_FOUND")
	for _, path := range []string{"/activities?limit=100", "/users/" + mine.Username + "/activities?limit=100",
		"/users/" + bob.Username + "/activities?limit=100"} {
		for _, m := range messagesOf(t, g.do(req{Method: "GET", Path: path})) {
			if m == "expiring" || m == "reply to expiring" {
				t.Fatalf("%s still lists %q", path, m)
			}
		}
	}

	// DELETE /activities/{uuid}: others 403, its author 204, then 404; the
	// parent's replies_count drops; its likes, reposts and replies go with it.
	replyID := reply["uuid"].(string)
	expect(t, g.as(cy, req{Method: "PUT", Path: "/activities/" + replyID + "/like"}), 204, "")
	expect(t, g.as(ann, req{Method: "DELETE", Path: "/activities/" + replyID}), 403, "FORBIDDEN")
	expect(t, g.as(bob, req{Method: "DELETE", Path: "/activities/" + replyID, Headers: map[string]string{"X-Request-Id": "feed-del-reply"}}), 204, "")
	expect(t, g.do(req{Method: "GET", Path: "/activities/" + replyID}), 404, "NOT_FOUND")
	if _, _, n := g.counts(t, id); n != 1 {
		t.Fatalf("replies_count %d after deleting a reply, want 1", n)
	}
	expect(t, g.as(bob, req{Method: "DELETE", Path: "/activities/" + id}), 403, "FORBIDDEN")
	expect(t, g.as(ann, req{Method: "DELETE", Path: "/activities/" + id}), 204, "")
	expect(t, g.as(ann, req{Method: "DELETE", Path: "/activities/" + id}), 404, "NOT_FOUND")
	var left int
	if err := owner.QueryRow(context.Background(), `
		SELECT (SELECT count(*) FROM publishing.activities WHERE uuid = $1 OR reply_to_activity_uuid = $1)
		     + (SELECT count(*) FROM publishing.likes WHERE activity_uuid = $1)
		     + (SELECT count(*) FROM publishing.reposts WHERE activity_uuid = $1)`, id).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Fatalf("%d rows of the deleted activity (replies, likes, reposts) remain", left)
	}
	var logged int
	if err := owner.QueryRow(context.Background(), `SELECT count(*) FROM audit.logs
		WHERE level = 'INFO' AND source = 'publishing' AND message = 'activity deleted' AND account_id = $1
		  AND details ->> 'activity_uuid' = $2`, ann.ID, id).Scan(&logged); err != nil {
		t.Fatal(err)
	}
	if logged != 1 {
		t.Fatalf("%d audit rows for the deletion, want 1", logged)
	}
}

// Deleting an account takes its activities, likes, reposts and replies, and
// the counts on other accounts' activities drop.
func TestActivityCountsFollowAccountDeletion(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	owner1 := g.posters(t, 1)[0]
	id := g.postActivity(t, owner1, map[string]any{"message": "popular"})["uuid"].(string)
	u := g.signup(t)
	tok := g.login(t, u, "ua-del")
	expect(t, g.do(req{Method: "PUT", Path: "/activities/" + id + "/like", Token: tok, UA: "ua-del"}), 204, "")
	expect(t, g.do(req{Method: "POST", Path: "/activities/" + id + "/reposts", Token: tok, UA: "ua-del"}), 201, "")
	expect(t, g.do(req{Method: "POST", Path: "/activities/" + id + "/replies", Token: tok, UA: "ua-del",
		Body: map[string]any{"message": "bye soon"}}), 201, "")
	expect(t, g.do(req{Method: "POST", Path: "/activities", Token: tok, UA: "ua-del", Body: map[string]any{"message": "mine"}}), 201, "")
	if l, r, c := g.counts(t, id); l != 1 || r != 1 || c != 1 {
		t.Fatalf("counts before: %d likes, %d reposts, %d replies; want 1 each", l, r, c)
	}
	expect(t, g.do(req{Method: "DELETE", Path: "/account", Token: tok, UA: "ua-del", IP: u.IP,
		Body: map[string]any{"password": u.Password}}), 204, "")
	if l, r, c := g.counts(t, id); l != 0 || r != 0 || c != 0 {
		t.Fatalf("counts after the account's deletion: %d likes, %d reposts, %d replies; want 0", l, r, c)
	}
	expect(t, g.do(req{Method: "GET", Path: "/users/" + u.Username + "/activities"}), 404, "NOT_FOUND")
}

// GET /activities/{uuid}/replies pages a thread of 250 replies (made
// behind the API's back, in pairs sharing a created_at, so that the uuid
// breaks ties) oldest first: every reply once, in order, with limit=100 and
// with the default 20 (what every list refuses: TestListPaging).
func TestActivityRepliesPaged(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	p := g.posters(t, 1)[0]
	parent := g.postActivity(t, p, map[string]any{"message": "a busy thread"})["uuid"].(string)
	var want []string
	rows, err := owner.Query(context.Background(), `
		INSERT INTO publishing.activities (author_id, message, reply_to_activity_uuid, created_at)
		SELECT $1, 'reply ' || i, $2, now() - interval '1 hour' + (i / 2) * interval '1 second'
		  FROM generate_series(1, 250) i
		RETURNING uuid::text, created_at`, p.ID, parent)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		id string
		at time.Time
	}
	var made []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.at); err != nil {
			t.Fatal(err)
		}
		made = append(made, r)
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	if err := owner.QueryRow(context.Background(), `SELECT array_agg(uuid::text ORDER BY created_at, uuid)
		FROM publishing.activities WHERE reply_to_activity_uuid = $1`, parent).Scan(&want); err != nil {
		t.Fatal(err)
	}
	if len(made) != 250 || len(want) != 250 {
		t.Fatalf("made %d replies, the table holds %d", len(made), len(want))
	}

	pageAll := func(limit string) (ids []string, pages int) {
		next := ""
		for pages = 0; pages < 100; pages++ {
			path := "/activities/" + parent + "/replies?" + limit
			if next != "" {
				path += "&before=" + url.QueryEscape(next)
			}
			r := g.do(req{Method: "GET", Path: path})
			expect(t, r, 200, "")
			body := r.JSON(t)
			expectKeys(t, "replies page", body, "replies", "next")
			for _, v := range body["replies"].([]any) {
				a := v.(map[string]any)
				if a["reply_to_activity_uuid"] != parent {
					t.Fatalf("a listed reply names %v as its parent", a["reply_to_activity_uuid"])
				}
				ids = append(ids, a["uuid"].(string))
			}
			next, _ = body["next"].(string)
			if next == "" {
				return ids, pages + 1
			}
		}
		t.Fatalf("more than 100 pages")
		return
	}
	for _, c := range []struct {
		limit string
		pages int
	}{{"limit=100", 3}, {"", 13}} {
		ids, pages := pageAll(c.limit)
		if pages != c.pages || strings.Join(ids, ",") != strings.Join(want, ",") {
			seen := map[string]int{}
			for _, id := range ids {
				seen[id]++
			}
			t.Fatalf("?%s: %d pages (want %d), %d replies (%d distinct), want the 250 oldest first", c.limit, pages, c.pages,
				len(ids), len(seen))
		}
	}
}

// race sends one request per poster at the same moment (all goroutines wait
// on one channel) and returns the statuses.
func (g *testGateway) race(t *testing.T, ps []poster, r func(p poster) req) []int {
	t.Helper()
	start := make(chan struct{})
	statuses := make([]int, len(ps))
	errs := make([]error, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q := r(p)
			q.Token, q.UA = p.Token, posterUA
			<-start
			res, err := g.try(q)
			statuses[i], errs[i] = res.Status, err
		}()
	}
	close(start)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return statuses
}

func allAre(t *testing.T, what string, statuses []int, want int) {
	t.Helper()
	for _, s := range statuses {
		if s != want {
			t.Fatalf("%s: statuses %v, want all %d", what, statuses, want)
		}
	}
}

// 50 accounts like, repost and reply to one activity at the same moment:
// every counter ends at exactly 50; a second round of reposts is all 409
// and changes nothing; a like and an unlike racing from one account leave
// the count equal to the rows.
func TestActivityCountsUnderConcurrency(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	const n = 50
	ps := g.posters(t, n+1)
	author, ps := ps[0], ps[1:]
	id := g.postActivity(t, author, map[string]any{"message": "race me"})["uuid"].(string)
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
		case <-time.After(90 * time.Second):
			panic("TestActivityCountsUnderConcurrency: still running after 90 s")
		}
	}()
	defer close(done)

	allAre(t, "50 concurrent likes", g.race(t, ps, func(poster) req {
		return req{Method: "PUT", Path: "/activities/" + id + "/like"}
	}), 204)
	allAre(t, "50 concurrent likes again", g.race(t, ps, func(poster) req {
		return req{Method: "PUT", Path: "/activities/" + id + "/like"}
	}), 204)
	allAre(t, "50 concurrent reposts", g.race(t, ps, func(poster) req {
		return req{Method: "POST", Path: "/activities/" + id + "/reposts"}
	}), 201)
	allAre(t, "50 concurrent second reposts", g.race(t, ps, func(poster) req {
		return req{Method: "POST", Path: "/activities/" + id + "/reposts"}
	}), 409)
	allAre(t, "50 concurrent replies", g.race(t, ps, func(p poster) req {
		return req{Method: "POST", Path: "/activities/" + id + "/replies", Body: map[string]any{"message": "me too, " + p.Username}}
	}), 201)
	l, r, c := g.counts(t, id)
	if l != n || r != n || c != n {
		t.Fatalf("after 50 concurrent likes (twice), reposts and replies: likes %d, reposts %d, replies %d; want %d each", l, r, c, n)
	}
	if rowCount(t, "likes", id) != n || rowCount(t, "reposts", id) != n {
		t.Fatalf("rows: %d likes, %d reposts; want %d", rowCount(t, "likes", id), rowCount(t, "reposts", id), n)
	}

	// Half unlike and undo their repost while the other half like again, all at once.
	statuses := g.race(t, ps, func(p poster) req {
		if p.ID%2 == 0 {
			return req{Method: "DELETE", Path: "/activities/" + id + "/like"}
		}
		return req{Method: "PUT", Path: "/activities/" + id + "/like"}
	})
	allAre(t, "mixed likes and unlikes", statuses, 204)
	allAre(t, "concurrent repost undos", g.race(t, ps, func(poster) req {
		return req{Method: "DELETE", Path: "/activities/" + id + "/reposts"}
	}), 204)
	l, r, _ = g.counts(t, id)
	if l != rowCount(t, "likes", id) || r != 0 || rowCount(t, "reposts", id) != 0 {
		t.Fatalf("likes_count %d vs %d rows, reposts_count %d vs %d rows", l, rowCount(t, "likes", id), r, rowCount(t, "reposts", id))
	}

	// A like and an unlike from one account, racing, over and over.
	one := ps[0]
	for i := 0; i < 20; i++ {
		st := g.race(t, []poster{one, one}, func() func(poster) req {
			k := 0
			var mu sync.Mutex
			return func(poster) req {
				mu.Lock()
				defer mu.Unlock()
				k++
				if k == 1 {
					return req{Method: "PUT", Path: "/activities/" + id + "/like"}
				}
				return req{Method: "DELETE", Path: "/activities/" + id + "/like"}
			}
		}())
		allAre(t, "a like racing an unlike", st, 204)
		var liked, count int
		if err := owner.QueryRow(context.Background(), `
			SELECT (SELECT count(*) FROM publishing.likes WHERE activity_uuid = $1 AND account_id = $2),
			       (SELECT likes_count - (SELECT count(*) FROM publishing.likes WHERE activity_uuid = $1)
			          FROM publishing.activities WHERE uuid = $1)`, id, one.ID).Scan(&liked, &count); err != nil {
			t.Fatal(err)
		}
		if liked > 1 || count != 0 {
			t.Fatalf("round %d: %d like rows for the account, count minus rows = %d; want at most 1 and 0", i, liked, count)
		}
	}
}

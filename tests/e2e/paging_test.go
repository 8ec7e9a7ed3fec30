package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Keyset paging, the same rules on every list route (docs/api.md,
// "Conventions"): walked with ?limit= and each page's "next" as ?before=,
// a list serves every item once, in its order, whatever is added meanwhile;
// the last page's next is null; limit is 1–100 (422 otherwise, 400 when it
// is not an integer); a cursor that is not one of this list's is a 400.
// What each list adds (the replies' ties, the posts' concurrent publishing,
// a tracker's range): the tests of its group.

const pageLimit = 2

// pagedItems is a list's items made for TestListPaging.
type pagedItems struct {
	path string   // the list, without a query
	as   req      // the token and browser the list is read with (none for a public list)
	want []string // the items made, in the list's order (more than 3 pages of pageLimit)
	// shared: the list holds other tests' items too (the posts, the home
	// feed), so only the items made here are compared; they are backdated to
	// a time of their own, before any other test's, so that they follow each
	// other at the list's end.
	shared bool
	// add makes one item more, the newest, and answers its id: on no later
	// page of a list that is newest first, on the last one of the replies.
	add         func() string
	oldestFirst bool
}

// pagedList is one list route: the answer's member holding the items, an
// item's id member, and how to make its items.
type pagedList struct {
	route, key, idKey string
	make              func(t *testing.T, g *testGateway) pagedItems
}

// pastBase is a moment of its own in the distant past (pagedItems.shared).
func pastBase(year int) time.Time {
	return time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(ipSeq.Add(1)%100000) * time.Hour)
}

// ordered answers the ids that query selects, in its order.
func ordered(t *testing.T, query string, args ...any) []string {
	t.Helper()
	var ids []string
	if err := owner.QueryRow(context.Background(), query, args...).Scan(&ids); err != nil {
		t.Fatal(err)
	}
	return ids
}

// backdate sets created_at of table's rows in ids to base plus i/2 seconds
// (i, the row's place in ids), so that pairs of rows tie on it.
func backdate(t *testing.T, table, idColumn string, ids []string, base time.Time) {
	t.Helper()
	for i, id := range ids {
		if _, err := owner.Exec(context.Background(),
			fmt.Sprintf("UPDATE %s SET created_at = $2 WHERE %s::text = $1", table, idColumn), id,
			base.Add(time.Duration(i/2)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
}

// activities posts n activities as p (replies to parent, unless "") and
// answers their uuids, oldest first.
func (g *testGateway) activities(t *testing.T, p poster, parent string, n int) []string {
	t.Helper()
	var ids []string
	for i := 0; i < n; i++ {
		ids = append(ids, g.activityOf(t, p, parent, fmt.Sprintf("paged %d", i)))
	}
	return ids
}

func (g *testGateway) activityOf(t *testing.T, p poster, parent, message string) string {
	t.Helper()
	if parent == "" {
		return g.postActivity(t, p, map[string]any{"message": message})["uuid"].(string)
	}
	r := g.as(p, req{Method: "POST", Path: "/activities/" + parent + "/replies", Body: map[string]any{"message": message}})
	expect(t, r, 201, "")
	return obj(t, r.JSON(t), "activity")["uuid"].(string)
}

const pagedItemCount = 3*pageLimit + 1

var pagedLists = []pagedList{
	{"GET /posts", "posts", "id", func(t *testing.T, g *testGateway) pagedItems {
		w := g.account(t, "author")
		var ids []string
		for i := 0; i < pagedItemCount; i++ {
			ids = append(ids, postID(t, g.createPost(t, w, fmt.Sprintf("paged %d", i), "content")))
		}
		backdate(t, "publishing.posts", "id", ids, pastBase(1980))
		return pagedItems{
			path: "/posts", shared: true,
			want: ordered(t, `SELECT array_agg(id::text ORDER BY created_at DESC, id DESC) FROM publishing.posts
				WHERE author_id = $1`, int64(w.ID)),
			add: func() string { return postID(t, g.createPost(t, w, "published while paging", "content")) },
		}
	}},
	{"GET /activities", "activities", "uuid", func(t *testing.T, g *testGateway) pagedItems {
		p := g.posters(t, 1)[0]
		backdate(t, "publishing.activities", "uuid", g.activities(t, p, "", pagedItemCount), pastBase(1960))
		return pagedItems{
			path: "/activities", shared: true,
			want: ordered(t, `SELECT array_agg(uuid::text ORDER BY created_at DESC, uuid DESC) FROM publishing.activities
				WHERE author_id = $1`, p.ID),
			add: func() string { return g.activityOf(t, p, "", "posted while paging") },
		}
	}},
	{"GET /users/{handle}/activities", "activities", "uuid", func(t *testing.T, g *testGateway) pagedItems {
		p := g.posters(t, 1)[0]
		backdate(t, "publishing.activities", "uuid", g.activities(t, p, "", pagedItemCount), time.Now().Add(-time.Hour))
		return pagedItems{
			path: "/users/" + p.Username + "/activities",
			want: ordered(t, `SELECT array_agg(uuid::text ORDER BY created_at DESC, uuid DESC) FROM publishing.activities
				WHERE author_id = $1`, p.ID),
			add: func() string { return g.activityOf(t, p, "", "posted while paging") },
		}
	}},
	{"GET /activities/{uuid}/replies", "replies", "uuid", func(t *testing.T, g *testGateway) pagedItems {
		p := g.posters(t, 1)[0]
		parent := g.activityOf(t, p, "", "a thread")
		backdate(t, "publishing.activities", "uuid", g.activities(t, p, parent, pagedItemCount), time.Now().Add(-time.Hour))
		return pagedItems{
			path: "/activities/" + parent + "/replies", oldestFirst: true,
			want: ordered(t, `SELECT array_agg(uuid::text ORDER BY created_at, uuid) FROM publishing.activities
				WHERE reply_to_activity_uuid = $1`, parent),
			add: func() string { return g.activityOf(t, p, parent, "replied while paging") },
		}
	}},
	{"GET /goals/{id}/entries", "entries", "id", func(t *testing.T, g *testGateway) pagedItems {
		o := g.sessionUser(t)
		goal := num(t, o.createGoal(t, g, map[string]any{"title": "Pages"}), "id")
		var want []string
		for i := 0; i < pagedItemCount; i++ { // pairs on one occurred_at: the larger id first
			at := time.Date(2026, 5, 1, i/2, 0, 0, 0, time.UTC).Format(time.RFC3339)
			want = append([]string{num(t, o.addEntry(t, g, goal, map[string]any{"amount": i, "occurred_at": at}), "id")}, want...)
		}
		return pagedItems{
			path: "/goals/" + goal + "/entries", as: req{Token: o.tok, UA: sessionUA}, want: want,
			add: func() string { return num(t, o.addEntry(t, g, goal, map[string]any{"amount": 1}), "id") },
		}
	}},
	{"GET /trackers/{id}/logs", "logs", "id", func(t *testing.T, g *testGateway) pagedItems {
		o := g.sessionUser(t)
		tracker := num(t, o.createTracker(t, g, map[string]any{"name": "Pages", "type": "numerical"}), "id")
		var want []string
		for i := 0; i < pagedItemCount; i++ { // pairs on one logged_at: the larger id first
			at := time.Date(2026, 5, 1, i/2, 0, 0, 0, time.UTC).Format(time.RFC3339)
			want = append([]string{num(t, o.addLog(t, g, tracker, map[string]any{"value": i, "logged_at": at}), "id")}, want...)
		}
		return pagedItems{
			path: "/trackers/" + tracker + "/logs", as: req{Token: o.tok, UA: sessionUA}, want: want,
			add: func() string { return num(t, o.addLog(t, g, tracker, map[string]any{"value": 1}), "id") },
		}
	}},
}

func TestListPaging(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	nexts := map[string]string{}    // the first page's next of each list, for the others
	made := map[string]pagedItems{} // each list's items
	get := func(items pagedItems, query string) resp {
		q := items.as
		q.Method, q.Path = "GET", items.path+"?"+query
		return g.do(q)
	}
	for _, l := range pagedLists {
		items := l.make(t, g)
		made[l.route] = items

		// The walk: every page at most pageLimit items, each item once.
		want := items.want
		mine := map[string]bool{}
		for _, id := range want {
			mine[id] = true
		}
		var got []string
		seen := map[string]bool{}
		added := ""
		before := ""
		for page := 0; ; page++ {
			if page > 100000 {
				t.Fatalf("%s: no end after %d pages", l.route, page)
			}
			q := url.Values{"limit": {fmt.Sprint(pageLimit)}}
			if before != "" {
				q.Set("before", before)
			}
			r := get(items, q.Encode())
			expect(t, r, 200, "")
			dec := json.NewDecoder(bytes.NewReader(r.Body))
			dec.UseNumber()
			var body map[string]any
			if err := dec.Decode(&body); err != nil {
				t.Fatalf("%s: %v: %s", l.route, err, r.Body)
			}
			expectKeys(t, l.route+" page", body, l.key, "next")
			list := body[l.key].([]any)
			if len(list) > pageLimit {
				t.Fatalf("%s: a page of %d items, limit %d", l.route, len(list), pageLimit)
			}
			for _, v := range list {
				id := fmt.Sprint(v.(map[string]any)[l.idKey])
				if !mine[id] && id != added {
					if items.shared {
						continue // another test's, which it may move (a post backdated)
					}
					t.Fatalf("%s: item %s was not made here", l.route, id)
				}
				if seen[id] {
					t.Fatalf("%s: item %s served twice", l.route, id)
				}
				seen[id] = true
				got = append(got, id)
			}
			if page == 0 {
				added = items.add()
				if items.oldestFirst {
					want = append(want, added)
				}
				nexts[l.route], _ = body["next"].(string)
			}
			next, ok := body["next"].(string)
			if !ok {
				if body["next"] != nil {
					t.Fatalf("%s: next is %v, want a string or null", l.route, body["next"])
				}
				break
			}
			before = next
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("%s: the pages gave %v, want %v", l.route, got, want)
		}

		// The refusals, each with the error shape and the parameter named.
		first := nexts[l.route]
		if first == "" {
			t.Fatalf("%s: the first page has no next", l.route)
		}
		flipped := []byte(first)
		flipped[len(flipped)/2] ^= 1
		for _, c := range []struct {
			q      string
			status int
			field  string
		}{
			{"limit=0", 422, "limit"},
			{"limit=101", 422, "limit"},
			{"limit=-5", 422, "limit"},
			{"limit=ten", 400, "limit"},
			{"limit=1.5", 400, "limit"},
			{"before=not-a-cursor", 400, "before"},
			{"before=bm8gYmFy", 400, "before"},
			{"before=" + strings.Repeat("QUFB", 60), 400, "before"},
			{"before=%00", 400, "before"},
			{"before=" + url.QueryEscape(string(flipped)), 400, "before"},
			{"before=" + url.QueryEscape(strings.TrimRight(first, "=")+"x"), 400, "before"},
		} {
			r := get(items, c.q)
			expect(t, r, c.status, map[int]string{400: "BAD_REQUEST", 422: "VALIDATION"}[c.status])
			expectErrorBody(t, r)
			if details(t, r)[c.field] == "" {
				t.Fatalf("%s?%s: details %s, want %s", l.route, c.q, r.Body, c.field)
			}
		}

		// The default limit is 20.
		r := get(items, "")
		expect(t, r, 200, "")
		if n := len(r.JSON(t)[l.key].([]any)); n > 20 {
			t.Fatalf("%s: %d items without a limit, want at most 20", l.route, n)
		}
		if all := len(mine) + 1; !items.shared && len(r.JSON(t)[l.key].([]any)) != all {
			t.Fatalf("%s: %d items without a limit, want all %d", l.route, len(r.JSON(t)[l.key].([]any)), all)
		}
		// The most is 100.
		r = get(items, "limit=100")
		expect(t, r, 200, "")
		if all := len(mine) + 1; !items.shared && len(r.JSON(t)[l.key].([]any)) != all {
			t.Fatalf("%s: %d items with limit 100, want all %d", l.route, len(r.JSON(t)[l.key].([]any)), all)
		}
	}

	// A list refuses every other list's cursor.
	for _, l := range pagedLists {
		for _, other := range pagedLists {
			if other.route == l.route {
				continue
			}
			r := get(made[l.route], "before="+url.QueryEscape(nexts[other.route]))
			expect(t, r, 400, "BAD_REQUEST")
			if details(t, r)["before"] == "" {
				t.Fatalf("%s with a cursor of %s: details %s, want before", l.route, other.route, r.Body)
			}
		}
	}
}

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

// Availability, signup, and the caller's own account: profile, password,
// deletion.

func availability(t *testing.T, g *testGateway, q url.Values) string {
	t.Helper()
	r := g.do(req{Method: "GET", Path: "/availability?" + q.Encode()})
	expect(t, r, 200, "")
	body := r.JSON(t)
	expectKeys(t, "availability", body, "status")
	s, _ := body["status"].(string)
	return s
}

func TestAvailability(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	u := g.signup(t)
	free := unique("free_")
	for _, c := range []struct {
		q    url.Values
		want string
	}{
		{url.Values{"username": {free}, "email": {free + "@example.com"}}, "OK"},
		{url.Values{"username": {free}}, "OK"},
		{url.Values{"email": {free + "@example.com"}}, "OK"},
		{url.Values{"username": {u.Username}}, "USERNAME"},
		{url.Values{"username": {strings.ToUpper(u.Username)}}, "USERNAME"},
		{url.Values{"email": {strings.ToUpper(u.Email)}}, "EMAIL"},
		{url.Values{"username": {free}, "email": {u.Email}}, "EMAIL"},
		// Both taken: the username is reported.
		{url.Values{"username": {u.Username}, "email": {u.Email}}, "USERNAME"},
	} {
		if got := availability(t, g, c.q); got != c.want {
			t.Errorf("availability?%s = %q, want %q", c.q.Encode(), got, c.want)
		}
	}

	r := g.do(req{Method: "GET", Path: "/availability"})
	expect(t, r, 422, "VALIDATION")
	if d := details(t, r); d["username"] == "" || d["email"] == "" {
		t.Fatalf("details %v, want username and email", d)
	}
	for _, q := range []string{"username=a%00b", "email=a%00b@example.com", "username=%ff%fe"} {
		r := g.do(req{Method: "GET", Path: "/availability?" + q})
		expect(t, r, 400, "BAD_REQUEST")
		expectErrorBody(t, r)
	}
	// Not a state change: any origin may ask, and the answer is JSON.
	r = g.do(req{Method: "GET", Path: "/availability?username=" + free, Headers: map[string]string{"Origin": "https://evil.example"}})
	expect(t, r, 200, "")
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
}

func TestSignup(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	before := time.Now()
	u := user{Username: unique("Mixed_Case."), Password: "a perfectly fine password", IP: uniqueIP()}
	u.Email = unique("Someone-") + "@Example.com"
	r := g.do(req{Method: "POST", Path: "/accounts", Body: map[string]any{
		"username": u.Username, "email": u.Email, "password": u.Password}})
	expect(t, r, 201, "")
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
	body := r.JSON(t)
	expectKeys(t, "signup answer", body, "account")
	a := obj(t, body, "account")
	expectAccount(t, a, u) // username and e-mail kept as typed
	if a["display_name"] != u.Username {
		t.Fatalf("display_name %v, want the username %q by default", a["display_name"], u.Username)
	}
	near(t, "created_at", timestamp(t, a["created_at"]), before, 5*time.Minute)
	if strings.Contains(string(r.Body), u.Password) || strings.Contains(string(r.Body), "$2") {
		t.Fatalf("the signup answer shows the password or its hash: %s", r.Body)
	}
	if sessionCookieOf(r) != nil {
		t.Fatal("signup set a session cookie")
	}
	// The new account can log in, and the session shows the same account.
	u.ID = a["id"].(float64)
	tok := g.login(t, u, "ua")
	s := g.do(req{Method: "GET", Path: "/session", Token: tok, UA: "ua"})
	expect(t, s, 200, "")
	if got := obj(t, s.JSON(t), "account"); fmt.Sprint(got) != fmt.Sprint(a) {
		t.Fatalf("GET /session account %v, want the signup's %v", got, a)
	}

	// display_name as given; blank falls back to the username.
	for _, c := range []struct{ given, want string }{{"Ann Example", "Ann Example"}, {"   ", ""}, {"", ""}} {
		name := unique("dn_")
		r := g.do(req{Method: "POST", Path: "/accounts", Body: map[string]any{
			"username": name, "email": name + "@example.com", "password": "long enough password", "display_name": c.given}})
		expect(t, r, 201, "")
		want := c.want
		if want == "" {
			want = name
		}
		if got := obj(t, r.JSON(t), "account")["display_name"]; got != want {
			t.Fatalf("display_name %q gave %v, want %q", c.given, got, want)
		}
	}
	// null is the same as absent.
	name := unique("nul_")
	r = g.do(req{Method: "POST", Path: "/accounts", Body: map[string]any{
		"username": name, "email": name + "@example.com", "password": "long enough password", "display_name": nil}})
	expect(t, r, 201, "")
	if got := obj(t, r.JSON(t), "account")["display_name"]; got != name {
		t.Fatalf("display_name null gave %v", got)
	}
}

func TestSignupConflicts(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	u := g.signup(t)
	other := unique("other_")

	r := g.do(req{Method: "POST", Path: "/accounts", Body: map[string]any{
		"username": strings.ToUpper(u.Username), "email": other + "@example.com", "password": "long enough password"}})
	expect(t, r, 409, "USERNAME_TAKEN")
	expectErrorBody(t, r)

	r = g.do(req{Method: "POST", Path: "/accounts", Body: map[string]any{
		"username": other, "email": strings.ToUpper(u.Email), "password": "long enough password"}})
	expect(t, r, 409, "EMAIL_TAKEN")
	expectErrorBody(t, r)

	expect(t, g.do(req{Method: "POST", Path: "/accounts", Body: map[string]any{
		"username": u.Username, "email": u.Email, "password": "long enough password"}}), 409, "USERNAME_TAKEN")
	// Nothing was created by the refused signups.
	if got := availability(t, g, url.Values{"username": {other}}); got != "OK" {
		t.Fatalf("a refused signup left %q behind", other)
	}
}

func TestSignupValidation(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	valid := func() map[string]any {
		n := unique("v_")
		return map[string]any{"username": n, "email": n + "@example.com", "password": "long enough password"}
	}
	with := func(k string, v any) map[string]any {
		b := valid()
		b[k] = v
		return b
	}
	without := func(k string) map[string]any {
		b := valid()
		delete(b, k)
		return b
	}
	for _, c := range []struct {
		name   string
		body   map[string]any
		fields []string
	}{
		{"password of 7 bytes", with("password", "1234567"), []string{"password"}},
		{"password of 73 bytes", with("password", strings.Repeat("p", 73)), []string{"password"}},
		{"password of 3 two-byte characters", with("password", "ééé"), []string{"password"}},
		{"password of 37 two-byte characters (74 bytes)", with("password", strings.Repeat("é", 37)), []string{"password"}},
		{"empty password", with("password", ""), []string{"password"}},
		{"username too short", with("username", "ab"), []string{"username"}},
		{"username too long", with("username", strings.Repeat("u", 33)), []string{"username"}},
		{"username with a space", with("username", "two words"), []string{"username"}},
		{"username with @", with("username", "at@sign"), []string{"username"}},
		{"username with a non-ASCII letter", with("username", "zoë_"+unique("")), []string{"username"}},
		{"username with a slash", with("username", "a/b/c"), []string{"username"}},
		{"email without @", with("email", "no-at-sign.example.com"), []string{"email"}},
		{"email with two @", with("email", "two@at@example.com"), []string{"email"}},
		{"email with a space", with("email", "sp ace@example.com"), []string{"email"}},
		{"email of 255 characters", with("email", strings.Repeat("e", 243)+"@example.com"), []string{"email"}},
		{"display_name of 65 characters", with("display_name", strings.Repeat("d", 65)), []string{"display_name"}},
		{"no username", without("username"), []string{"username"}},
		{"no email", without("email"), []string{"email"}},
		{"no password", without("password"), []string{"password"}},
		{"null password", with("password", nil), []string{"password"}},
		{"everything wrong", map[string]any{"username": "x", "email": "y", "password": "z"}, []string{"username", "email", "password"}},
		{"nothing", map[string]any{}, []string{"username", "email", "password"}},
	} {
		expectRefused(t, refusal{"POST", "/accounts (" + c.name + ")", c.body, 422, c.fields},
			g.do(req{Method: "POST", Path: "/accounts", Body: c.body}))
	}

	// The limits themselves are fine, counted in bytes.
	for _, c := range []struct{ name, username, password string }{
		{"72-byte password", unique("p72_"), strings.Repeat("x", 64) + unique("")},
		{"8-byte password of 4 characters", unique("p8_"), "éééé"},
		{"3-character username", "", "long enough password"},
		{"32-character username", unique("u32_") + strings.Repeat("z", 20), "long enough password"},
	} {
		name := c.username
		if name == "" {
			name = unique("")[:3]
		}
		email := unique("ok") + "@example.com"
		r := g.do(req{Method: "POST", Path: "/accounts", Body: map[string]any{"username": name, "email": email, "password": c.password}})
		if r.Status == 409 { // a 3-character name may be taken by an earlier run
			continue
		}
		expect(t, r, 201, "")
		u := user{Username: name, Email: email, Password: c.password, IP: uniqueIP()}
		g.login(t, u, "ua")
	}
	// 72 bytes is the limit, not a truncation point: 73 bytes sharing the
	// first 72 do not log in.
	u := g.signup(t)
	long := strings.Repeat("L", 72)
	tok := g.login(t, u, "ua")
	expect(t, g.do(req{Method: "PUT", Path: "/account/password", Token: tok, UA: "ua", IP: u.IP,
		Body: map[string]any{"current_password": u.Password, "new_password": long}}), 204, "")
	expect(t, g.do(req{Method: "POST", Path: "/sessions", IP: u.IP,
		Body: map[string]any{"login": u.Username, "password": long + "L"}}), 401, "INVALID_CREDENTIALS")
	u.Password = long
	g.login(t, u, "ua")
}

// Twenty signups of one name (in different cases) at once: one wins, the
// others are told the name is taken; nothing fails on the race.
func TestConcurrentSignups(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	for _, c := range []struct {
		what, code string
		body       func(i int, base string) map[string]any
	}{
		{"username", "USERNAME_TAKEN", func(i int, base string) map[string]any {
			name := base
			if i%2 == 1 {
				name = strings.ToUpper(base)
			}
			return map[string]any{"username": name, "email": fmt.Sprintf("%s-%d@example.com", base, i), "password": "long enough password"}
		}},
		{"email", "EMAIL_TAKEN", func(i int, base string) map[string]any {
			email := base + "@example.com"
			if i%2 == 1 {
				email = strings.ToUpper(email)
			}
			return map[string]any{"username": fmt.Sprintf("%s-%d", base, i), "email": email, "password": "long enough password"}
		}},
	} {
		t.Run(c.what, func(t *testing.T) {
			g := g.in(t)
			base := unique("race_")
			const n = 20
			results := make([]resp, n)
			errs := make([]error, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					<-start
					results[i], errs[i] = g.try(req{Method: "POST", Path: "/accounts", Body: c.body(i, base)})
				}(i)
			}
			close(start)
			wg.Wait()
			created, taken := 0, 0
			var other []string
			for i, r := range results {
				if errs[i] != nil {
					t.Fatal(errs[i])
				}
				switch {
				case r.Status >= 500:
					t.Fatalf("signup %d: %d %s", i, r.Status, r.Body)
				case r.Status == 201:
					created++
				case r.Status == 409 && r.Code(t) == c.code:
					taken++
				default:
					other = append(other, fmt.Sprintf("%d %s", r.Status, r.Body))
				}
			}
			if created != 1 {
				t.Fatalf("%d signups created an account, want exactly 1", created)
			}
			if len(other) > 0 {
				t.Fatalf("%d of %d losers answered something else than 409 %s: %v", len(other), n-1, c.code, other)
			}
			if taken != n-1 {
				t.Fatalf("%d answered 409 %s, want %d", taken, c.code, n-1)
			}
		})
	}
}

func TestUpdateAccount(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	u := g.signup(t)
	other := g.signup(t)
	tok := g.login(t, u, "ua")
	patch := func(body any) resp {
		return g.do(req{Method: "PATCH", Path: "/account", Token: tok, UA: "ua", Body: body})
	}
	account := func(r resp) map[string]any {
		t.Helper()
		expect(t, r, 200, "")
		body := r.JSON(t)
		expectKeys(t, "PATCH /account answer", body, "account")
		return obj(t, body, "account")
	}

	a := account(patch(map[string]any{"display_name": "Ann Example"}))
	expectAccount(t, a, u)
	if a["display_name"] != "Ann Example" {
		t.Fatalf("display_name %v", a["display_name"])
	}
	// Absent members are left alone.
	a = account(patch(map[string]any{}))
	if a["display_name"] != "Ann Example" || a["email"] != u.Email {
		t.Fatalf("an empty patch changed the account: %v", a)
	}
	// Visible to the next request.
	s := g.do(req{Method: "GET", Path: "/session", Token: tok, UA: "ua"})
	if got := obj(t, s.JSON(t), "account")["display_name"]; got != "Ann Example" {
		t.Fatalf("GET /session display_name %v", got)
	}
	// An empty display name falls back to the username.
	if a = account(patch(map[string]any{"display_name": ""})); a["display_name"] != u.Username {
		t.Fatalf("empty display_name gave %v, want the username", a["display_name"])
	}

	// A new e-mail needs the password and only waits for its confirmation
	// (mail_test.go follows the mailed link): the address stays until then.
	newEmail := unique("moved-") + "@example.com"
	r := patch(map[string]any{"email": newEmail})
	expect(t, r, 422, "VALIDATION")
	if d := details(t, r); d["password"] == "" {
		t.Fatalf("a new e-mail without the password: details %v, want password", d)
	}
	expect(t, patch(map[string]any{"email": newEmail, "password": "not the password"}), 401, "INVALID_CREDENTIALS")
	a = account(patch(map[string]any{"email": newEmail, "password": u.Password}))
	if a["email"] != u.Email || a["pending_email"] != newEmail || a["username"] != u.Username {
		t.Fatalf("account after asking for a new e-mail: %v", a)
	}
	expect(t, g.do(req{Method: "POST", Path: "/sessions", UA: "ua2", IP: u.IP,
		Body: map[string]any{"login": u.Email, "password": u.Password}}), 201, "")
	// One's own address in another case is not a conflict: taken at once,
	// and it calls the pending change off.
	if a = account(patch(map[string]any{"email": strings.ToUpper(u.Email)})); a["email"] != strings.ToUpper(u.Email) || a["pending_email"] != nil {
		t.Fatalf("account after the own address in capitals: %v", a)
	}

	// Someone else's address, in any case.
	r = patch(map[string]any{"email": strings.ToUpper(other.Email), "password": u.Password})
	expect(t, r, 409, "EMAIL_TAKEN")
	expectErrorBody(t, r)

	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"email": "not an e-mail"}, "email"},
		{map[string]any{"email": "a@b@c"}, "email"},
		{map[string]any{"display_name": strings.Repeat("d", 65)}, "display_name"},
	} {
		r := patch(c.body)
		expect(t, r, 422, "VALIDATION")
		if d := details(t, r); d[c.field] == "" {
			t.Fatalf("%v: details %v, want %s", c.body, d, c.field)
		}
	}
	// Only display_name and email can change: not the username, not the role.
	for _, body := range []map[string]any{{"role": "admin"}, {"username": "someone_else"}, {"id": 1}} {
		r := patch(body)
		expect(t, r, 400, "BAD_REQUEST")
	}
	expect(t, patch(map[string]any{"display_name": 42}), 400, "BAD_REQUEST")
	final := account(patch(map[string]any{}))
	if final["role"] != "user" || final["username"] != u.Username {
		t.Fatalf("account after refused patches: %v", final)
	}
}

func TestChangePassword(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	u := g.signup(t)
	tok := g.login(t, u, "laptop")
	phone := g.login(t, u, "phone")
	put := func(body any) resp {
		return g.do(req{Method: "PUT", Path: "/account/password", Token: tok, UA: "laptop", IP: u.IP, Body: body})
	}

	// Refusals change nothing.
	for _, c := range []struct {
		body   map[string]any
		fields []string
	}{
		{map[string]any{"current_password": u.Password, "new_password": "short"}, []string{"new_password"}},
		{map[string]any{"current_password": u.Password, "new_password": strings.Repeat("n", 73)}, []string{"new_password"}},
		{map[string]any{"current_password": "wrong", "new_password": "ééé"}, []string{"new_password"}},
	} {
		r := put(c.body)
		expect(t, r, 422, "VALIDATION")
		d := details(t, r)
		if len(d) != len(c.fields) {
			t.Fatalf("%v: details %v, want %v", c.body, d, c.fields)
		}
		for _, f := range c.fields {
			if d[f] == "" {
				t.Fatalf("%v: details %v, want %v", c.body, d, c.fields)
			}
		}
	}
	r := put(map[string]any{"current_password": "not the password", "new_password": "a new password"})
	expect(t, r, 401, "INVALID_CREDENTIALS")
	expectErrorBody(t, r)
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: tok, UA: "laptop"}), 200, "")
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: phone, UA: "phone"}), 200, "")
	expect(t, put(map[string]any{"current_password": u.Password, "new_password": 12345678}), 400, "BAD_REQUEST")
	expect(t, put(map[string]any{"current_password": u.Password, "new_password": "a new password", "confirm": "x"}), 400, "BAD_REQUEST")
	g.login(t, u, "laptop2")

	newPassword := "a brand new password " + unique("")
	r = put(map[string]any{"current_password": u.Password, "new_password": newPassword})
	expect(t, r, 204, "")
	if len(r.Body) != 0 {
		t.Fatalf("204 with a body %q", r.Body)
	}
	// This session stays, every other one is gone.
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: tok, UA: "laptop"}), 200, "")
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: phone, UA: "phone"}), 401, "INVALID")
	if n := sessionRows(t, u.ID); n != 1 {
		t.Fatalf("%d sessions after the change, want 1", n)
	}
	// The old password no longer logs in; the new one does.
	expect(t, g.loginResp(u, "ua"), 401, "INVALID_CREDENTIALS")
	u.Password = newPassword
	g.login(t, u, "ua")
	// And it is now the current password.
	expect(t, put(map[string]any{"current_password": "a brand new password", "new_password": "whatever else"}), 401, "INVALID_CREDENTIALS")
}

// A missing member is a 422 naming it, before any password is checked.
func TestChangePasswordRequiredFields(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	u := g.signup(t)
	tok := g.login(t, u, "ua")
	for _, c := range []struct {
		body   map[string]any
		fields []string
	}{
		{map[string]any{"current_password": u.Password}, []string{"new_password"}},
		{map[string]any{"new_password": "a new password"}, []string{"current_password"}},
		{map[string]any{}, []string{"current_password", "new_password"}},
	} {
		expectRefused(t, refusal{"PUT", "/account/password", c.body, 422, c.fields},
			g.do(req{Method: "PUT", Path: "/account/password", Token: tok, UA: "ua", IP: u.IP, Body: c.body}))
	}
	// Nothing changed, and nothing counted as a failed attempt.
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: tok, UA: "ua"}), 200, "")
	var failures int
	if err := owner.QueryRow(context.Background(),
		"SELECT coalesce(sum(failures), 0) FROM auth.login_failures WHERE key = $1", fmt.Sprintf("password_account:account:%d", int64(u.ID))).Scan(&failures); err != nil {
		t.Fatal(err)
	}
	if failures != 0 {
		t.Fatalf("%d failed attempts counted for requests that lacked a member", failures)
	}
	g.login(t, u, "ua2")
}

// Guessing the current password with a stolen token is limited: every
// attempt counts (password_account, per account and hour), and past the
// limit even the right password is a 429.
func TestChangePasswordThrottled(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	u := g.signup(t)
	tok := g.login(t, u, "ua")
	put := func(current string) resp {
		return g.do(req{Method: "PUT", Path: "/account/password", Token: tok, UA: "ua", IP: u.IP,
			Body: map[string]any{"current_password": current, "new_password": "a new password"}})
	}
	for i := 0; i < rateLimit(t, "password_account"); i++ {
		expect(t, put(fmt.Sprintf("guess number %d", i)), 401, "INVALID_CREDENTIALS")
	}
	expectRateLimited(t, put(u.Password), 60*60)
	// The session itself is still good.
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: tok, UA: "ua"}), 200, "")
}

func TestDeleteAccount(t *testing.T) {
	t.Parallel()
	g := startGateway(t, nil)
	u := g.signup(t)
	bystander := g.signup(t)
	theirs := g.login(t, bystander, "ua")
	tok := g.login(t, u, "laptop")
	g.login(t, u, "phone")
	del := func(body any) resp {
		return g.do(req{Method: "DELETE", Path: "/account", Token: tok, UA: "laptop", IP: u.IP, Body: body})
	}

	// An empty object, and no body at all, both lack the password.
	for _, body := range []any{map[string]any{}, nil} {
		r := del(body)
		expect(t, r, 422, "VALIDATION")
		if d := details(t, r); d["password"] == "" {
			t.Fatalf("details %v, want password", d)
		}
	}
	r := del(map[string]any{"password": "not the password"})
	expect(t, r, 401, "INVALID_CREDENTIALS")
	if sessionCookieOf(r) != nil {
		t.Fatalf("a wrong password touched the cookie: %v", r.Header)
	}
	if !accountExists(t, u.ID) || sessionRows(t, u.ID) != 2 {
		t.Fatal("a refused deletion changed the account")
	}

	r = del(map[string]any{"password": u.Password})
	expect(t, r, 204, "")
	if len(r.Body) != 0 {
		t.Fatalf("204 with a body %q", r.Body)
	}
	expectCookieCleared(t, r)
	if accountExists(t, u.ID) {
		t.Fatal("the account is still there")
	}
	if n := sessionRows(t, u.ID); n != 0 {
		t.Fatalf("%d sessions outlive the account", n)
	}
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: tok, UA: "laptop"}), 401, "INVALID")
	expect(t, g.loginResp(u, "laptop"), 401, "INVALID_CREDENTIALS")
	expect(t, g.do(req{Method: "GET", Path: "/session", Token: theirs, UA: "ua"}), 200, "")
	// The name and address are free again.
	if got := availability(t, g, url.Values{"username": {u.Username}, "email": {u.Email}}); got != "OK" {
		t.Fatalf("availability after deletion: %s", got)
	}
	expect(t, g.do(req{Method: "POST", Path: "/accounts", Body: map[string]any{
		"username": u.Username, "email": u.Email, "password": "a different password"}}), 201, "")
}

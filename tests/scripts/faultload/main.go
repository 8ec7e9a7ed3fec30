// Command faultload is the client load of tests/scripts/faults.sh: a few
// accounts, each signed up and logged in on one gateway directly, then
// workers that post an activity and read it back (through nginx, or from a
// gateway directly), over and over, until SIGTERM or SIGINT. It is a test tool, not part of the product.
//
// Every request is one line of -out (tab-separated):
//
//	start end method kind status code retry_after id message
//
// start and end are Unix times in seconds (with nanoseconds); kind is write
// (POST /activities) or read (GET /activities/{uuid}, or GET /session before
// the worker's first write); status is 0 when no answer came (the client
// gave up after -timeout, or the connection failed); code and message are
// the error body's; id is the uuid of a written activity (2xx writes only).
// faults.sh reads the file with awk and checks the written ids in SQL.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const userAgent = "faultload"

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "faultload:", err)
		os.Exit(1)
	}
}

func run() error {
	base := flag.String("base", "", "the API through nginx, e.g. https://127.0.0.1:8443")
	setup := flag.String("setup", "", "one gateway directly, for sign-up and login, e.g. http://127.0.0.1:18081")
	caFile := flag.String("ca", "", "the CA that signed nginx's certificate (for an https -base)")
	users := flag.Int("users", 4, "accounts")
	workers := flag.Int("concurrency", 8, "requests in flight at once")
	pause := flag.Duration("pause", 10*time.Millisecond, "each worker's pause between requests")
	timeout := flag.Duration("timeout", 60*time.Second, "the client gives up on a request after this")
	out := flag.String("out", "", "the record file")
	flag.Parse()
	if *base == "" || *setup == "" || *out == "" {
		return fmt.Errorf("-base, -setup and -out are required")
	}
	var roots *x509.CertPool
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			return err
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return fmt.Errorf("%s: no certificate", *caFile)
		}
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	defer w.Flush()

	direct := &http.Client{Timeout: 30 * time.Second}
	tokens := make([]string, *users)
	stamp := strconv.FormatInt(time.Now().UnixNano(), 36)
	for i := range tokens {
		name := fmt.Sprintf("fl%s_%d", stamp, i)
		pw := "fault load password " + name
		if st, _, err := post(direct, *setup+"/api/v1/accounts", "", map[string]any{
			"username": name, "email": name + "@example.com", "password": pw}); err != nil || st != 201 {
			return fmt.Errorf("sign-up %s: %d %v", name, st, err)
		}
		st, body, err := post(direct, *setup+"/api/v1/sessions", "", map[string]any{"login": name, "password": pw})
		var s struct{ Token string }
		if err != nil || st != 201 || json.Unmarshal(body, &s) != nil || s.Token == "" {
			return fmt.Errorf("login %s: %d %v", name, st, err)
		}
		tokens[i] = s.Token
	}

	client := &http.Client{Timeout: *timeout, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: *workers}}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	var mu sync.Mutex
	record := func(start, end time.Time, method, kind string, status int, code, retry, id, msg string) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(w, "%.6f\t%.6f\t%s\t%s\t%d\t%s\t%s\t%s\t%q\n", float64(start.UnixNano())/1e9, float64(end.UnixNano())/1e9,
			method, kind, status, dash(code), dash(retry), dash(id), msg)
		w.Flush()
	}
	fmt.Fprintln(os.Stderr, "faultload: running")
	var wg sync.WaitGroup
	for n := range *workers {
		tok := tokens[n%len(tokens)]
		wg.Go(func() {
			last := ""
			for i := 0; ctx.Err() == nil; i++ {
				var r result
				if i%2 == 0 {
					msg := fmt.Sprintf("fault load %s worker %d request %d", stamp, n, i)
					r = do(client, "POST", *base+"/api/v1/activities", tok, map[string]any{"message": msg})
					r.kind = "write"
					var a struct{ Activity struct{ UUID string } }
					if r.status/100 == 2 && json.Unmarshal(r.body, &a) == nil {
						r.id = a.Activity.UUID
						last = r.id
					}
				} else if last != "" {
					r = do(client, "GET", *base+"/api/v1/activities/"+last, tok, nil)
					r.kind = "read"
				} else {
					r = do(client, "GET", *base+"/api/v1/session", tok, nil)
					r.kind = "read"
				}
				record(r.start, r.end, r.method, r.kind, r.status, r.code, r.retry, r.id, r.msg)
				time.Sleep(*pause)
			}
		})
	}
	wg.Wait()
	fmt.Fprintln(os.Stderr, "faultload: stopped")
	return nil
}

type result struct {
	start, end           time.Time
	method, kind         string
	status               int
	code, retry, id, msg string
	body                 []byte
}

// do sends one request; a transport error is status 0 with its text.
func do(c *http.Client, method, url, tok string, body any) result {
	r := result{method: method, start: time.Now()}
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("User-Agent", userAgent)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.Do(req)
	if err != nil {
		r.end, r.msg = time.Now(), err.Error()
		return r
	}
	r.body, err = io.ReadAll(res.Body)
	res.Body.Close()
	r.end, r.status, r.retry = time.Now(), res.StatusCode, res.Header.Get("Retry-After")
	if err != nil {
		r.status, r.msg = 0, err.Error()
		return r
	}
	if res.StatusCode >= 400 {
		var e struct{ Code, Message string }
		if json.Unmarshal(r.body, &e) == nil {
			r.code, r.msg = e.Code, e.Message
		} else {
			r.msg = "not the error shape: " + strings.TrimSpace(string(r.body))
		}
	}
	return r
}

func post(c *http.Client, url, tok string, body any) (int, []byte, error) {
	r := do(c, "POST", url, tok, body)
	if r.status == 0 {
		return 0, nil, fmt.Errorf("%s", r.msg)
	}
	return r.status, r.body, nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// toxiproxy drives a toxiproxy server through its HTTP API: the proxies of
// `scripts/bench session --remote`, one between each contender and
// PostgreSQL, each with a latency toxic on the answers.
type toxiproxy struct {
	api    string // http://127.0.0.1:PORT
	client *http.Client
}

func newToxiproxy(api string) toxiproxy {
	return toxiproxy{api: api, client: &http.Client{Timeout: 5 * time.Second}}
}

// do sends one request with a JSON body (none when body is nil); an answer
// that is not 2xx is an error with its text.
func (t toxiproxy) do(ctx context.Context, method, path string, body any) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, t.api+path, r)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := t.client.Do(req)
	if err != nil {
		return fmt.Errorf("toxiproxy %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("toxiproxy %s %s: %s: %.200s", method, path, resp.Status, text)
	}
	return nil
}

// proxy creates a proxy named name on 127.0.0.1:listen to upstream (host:port).
func (t toxiproxy) proxy(ctx context.Context, name string, listen int, upstream string) error {
	return t.do(ctx, http.MethodPost, "/proxies", map[string]any{
		"name": name, "listen": fmt.Sprintf("127.0.0.1:%d", listen), "upstream": upstream, "enabled": true})
}

// latency delays every chunk of the answers (downstream: PostgreSQL to the
// client) by ms milliseconds, without jitter: a database that far away.
// Each chunk is delayed from when it arrived, so answers in flight together
// (a pipelined batch) are not delayed one after the other.
func (t toxiproxy) latency(ctx context.Context, proxy string, ms int) error {
	return t.do(ctx, http.MethodPost, "/proxies/"+url.PathEscape(proxy)+"/toxics", map[string]any{
		"name": "latency", "type": "latency", "stream": "downstream", "toxicity": 1,
		"attributes": map[string]int{"latency": ms, "jitter": 0}})
}

// throughProxy is a postgres:// URL's database address (upstream, host:port,
// 5432 when the URL names none) and the same URL with 127.0.0.1:port in its
// place. A URL that names its host in a host= parameter (a Unix socket) or
// several hosts cannot be proxied.
func throughProxy(raw string, port int) (upstream, proxied string, err error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", "", fmt.Errorf("not a postgres:// URL")
	}
	if u.Query().Has("host") || u.Hostname() == "" {
		return "", "", fmt.Errorf("the database is not reached over TCP (host= parameter or no host): it cannot be proxied")
	}
	host, p := u.Hostname(), u.Port()
	if p == "" {
		p = "5432"
	}
	u.Host = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	return net.JoinHostPort(host, p), u.String(), nil
}

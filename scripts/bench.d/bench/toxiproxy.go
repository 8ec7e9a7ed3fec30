package main

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
)

// The proxies of `scripts/bench session --remote`, one between each
// contender and PostgreSQL, are made with toxiproxy's own client
// (github.com/Shopify/toxiproxy/v2/client, the server's version), each with
// a latency toxic on the answers (session.go, startProxies).

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

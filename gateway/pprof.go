package gateway

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// PprofHandler serves Go's profiles under /debug/pprof/ (CPU, heap,
// goroutines, …). It is only ever served on the listener PPROF_ADDR names,
// never by Handler: a profile shows the program's internals, and the CPU
// profile costs CPU while it runs.
func PprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// servePprof serves PprofHandler on ln until ctx is cancelled.
func (s *Server) servePprof(ctx context.Context, ln net.Listener) {
	srv := &http.Server{Handler: PprofHandler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.log.Error().Err(err).Msg("pprof listener stopped")
	}
}

package membership

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// conflictWarnInterval is the minimum time between two warnings about name
// conflicts on one node name. A worker that waits for its name after a
// restart causes a conflict with every retry, so the repeats in between
// are logged at Debug.
const conflictWarnInterval = 10 * time.Second

// logWriter turns memberlist's "[LEVEL] memberlist: text" lines into slog
// records, so they keep their severity under the process's handler.
type logWriter struct {
	logger *slog.Logger
	// now returns the current time. Tests replace it to step the clock.
	now func() time.Time

	// mu guards conflictWarned and resolveFailed.
	mu sync.Mutex
	// conflictWarned maps a node name to the time its last conflict was
	// logged as a warning.
	conflictWarned map[string]time.Time
	// resolveFailed maps a join address to its failures to resolve.
	resolveFailed map[string]*repeatLimiter
}

func newLogWriter(logger *slog.Logger) *logWriter {
	return &logWriter{
		logger:         logger,
		now:            time.Now,
		conflictWarned: make(map[string]time.Time),
		resolveFailed:  make(map[string]*repeatLimiter),
	}
}

func (w *logWriter) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(bytes.TrimRight(p, "\n"), []byte("\n")) {
		w.logLine(string(line))
	}
	return len(p), nil
}

func (w *logWriter) logLine(line string) {
	// memberlist's logger prefixes a timestamp; the level tag follows it.
	level := slog.LevelInfo
	if i := strings.Index(line, "["); i >= 0 {
		if j := strings.Index(line[i:], "]"); j > 0 {
			switch line[i+1 : i+j] {
			case "DEBUG", "TRACE":
				level = slog.LevelDebug
			case "WARN":
				level = slog.LevelWarn
			case "ERR", "ERROR":
				level = slog.LevelError
			}
			line = strings.TrimSpace(line[i+j+1:])
		}
	}
	line = strings.TrimPrefix(line, "memberlist: ")
	// After Shutdown, memberlist's goroutines still try to gossip for a
	// moment and report the closed socket as an error. Nothing is wrong.
	if strings.Contains(line, "use of closed network connection") {
		level = slog.LevelDebug
	}
	// A worker restarted on new ports causes this line until memberlist
	// releases the name of its dead process, so the line is expected. The
	// coordinator rejects a second live process under one name with an
	// error of its own.
	if name, ok := conflictName(line); ok {
		level = min(level, slog.LevelWarn)
		if !w.warnConflict(name, w.now()) {
			level = slog.LevelDebug
		}
	}
	attrs := []any{"component", "memberlist"}
	if addr, ok := unresolvedAddress(line); ok {
		warn, attempts, period := w.resolveFailure(addr, w.now())
		switch {
		case !warn:
			level = slog.LevelDebug
		case attempts > 1:
			attrs = append(attrs, "attempts", attempts, "period", period.Round(time.Second))
		}
	}
	w.logger.Log(context.Background(), level, line, attrs...)
}

// unresolvedAddress returns the join address of the line that memberlist
// v0.7.0's Join logs at WARN for each address it cannot resolve.
func unresolvedAddress(line string) (string, bool) {
	rest, ok := strings.CutPrefix(line, "failed to resolve ")
	if !ok {
		return "", false
	}
	addr, _, ok := strings.Cut(rest, ": ")
	return addr, ok
}

// resolveFailure records a failure to resolve addr at now, as
// [repeatLimiter.failure] does for the failures of that address.
func (w *logWriter) resolveFailure(addr string, now time.Time) (warn bool, attempts int, period time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	l, ok := w.resolveFailed[addr]
	if !ok {
		l = &repeatLimiter{}
		w.resolveFailed[addr] = l
	}
	return l.failure(now)
}

// conflictName returns the node name of memberlist's line about two
// addresses claiming one name.
func conflictName(line string) (string, bool) {
	rest, ok := strings.CutPrefix(line, "Conflicting address for ")
	if !ok {
		return "", false
	}
	name, _, ok := strings.Cut(rest, ". Mine:")
	return name, ok
}

// warnConflict reports whether a conflict on the node name is to be logged
// as a warning, and records the time when it is.
func (w *logWriter) warnConflict(name string, now time.Time) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if last, ok := w.conflictWarned[name]; ok && now.Sub(last) < conflictWarnInterval {
		return false
	}
	w.conflictWarned[name] = now
	return true
}

package membership

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestLogWriterKeepsSeverity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		line string
		want string
	}{
		{"warn", "2026/12/03 10:00:00 [WARN] memberlist: Refuting a suspect message\n", "level=WARN msg=\"Refuting a suspect message\""},
		{"error", "[ERR] memberlist: Failed to send ping\n", "level=ERROR msg=\"Failed to send ping\""},
		{"debug", "[DEBUG] memberlist: Stream connection\n", "level=DEBUG msg=\"Stream connection\""},
		{"name conflict", "[ERR] memberlist: Conflicting address for w4. Mine: 127.0.0.1:7946 Theirs: 127.0.0.1:7947 Old state: 1\n", "level=WARN msg=\"Conflicting address for w4."},
		{"closed socket after shutdown", "[ERR] memberlist: Failed to send gossip: use of closed network connection\n", "level=DEBUG"},
		{"untagged", "plain text\n", "level=INFO msg=\"plain text\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			w := newLogWriter(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
			if _, err := w.Write([]byte(tt.line)); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(buf.String(), tt.want) {
				t.Errorf("Write(%q) logged %q, want it to contain %q", tt.line, buf.String(), tt.want)
			}
		})
	}
}

func TestLogWriterLimitsConflictWarnings(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := newLogWriter(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	lines := []string{
		"[ERR] memberlist: Conflicting address for w4. Mine: 127.0.0.1:7946 Theirs: 127.0.0.1:7947 Old state: 1\n",
		"[ERR] memberlist: Conflicting address for w4. Mine: 127.0.0.1:7946 Theirs: 127.0.0.1:7947 Old state: 2\n",
		"[ERR] memberlist: Conflicting address for w5. Mine: 127.0.0.1:7948 Theirs: 127.0.0.1:7949 Old state: 0\n",
	}
	for _, line := range lines {
		if _, err := w.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	logged := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(logged) != 3 {
		t.Fatalf("logged %d lines, want 3:\n%s", len(logged), buf.String())
	}
	for i, want := range []string{"level=WARN", "level=DEBUG", "level=WARN"} {
		if !strings.Contains(logged[i], want) {
			t.Errorf("line %d = %q, want it to contain %q", i, logged[i], want)
		}
	}

	// After the interval, the same name is a warning again.
	if !w.warnConflict("w4", time.Now().Add(conflictWarnInterval)) {
		t.Errorf("warnConflict(w4) %v after its last warning = false, want true", conflictWarnInterval)
	}
}

func TestLogWriterLimitsResolveWarnings(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := newLogWriter(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	start := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	write := func(at time.Duration, addr string) string {
		t.Helper()
		buf.Reset()
		w.now = func() time.Time { return start.Add(at) }
		line := "2026/12/03 10:00:00 [WARN] memberlist: failed to resolve " + addr + ": lookup coordinator: no such host\n"
		if _, err := w.Write([]byte(line)); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}

	// A worker joins every 2 s while the address does not resolve.
	if got, want := write(0, "coordinator:7946"), "level=WARN"; !strings.Contains(got, want) {
		t.Errorf("first failure logged %q, want it to contain %q", got, want)
	}
	if got := write(0, "coordinator:7946"); strings.Contains(got, "attempts=") {
		t.Errorf("second failure logged %q, want no attempts yet", got)
	}
	for at := 2 * time.Second; at < repeatWarnInterval; at += 2 * time.Second {
		if got, want := write(at, "coordinator:7946"), "level=DEBUG"; !strings.Contains(got, want) {
			t.Fatalf("failure after %v logged %q, want it to contain %q", at, got, want)
		}
	}
	summary := write(repeatWarnInterval, "coordinator:7946")
	for _, want := range []string{"level=WARN", "msg=\"failed to resolve coordinator:7946:", "attempts=31", "period=1m0s"} {
		if !strings.Contains(summary, want) {
			t.Errorf("failure after %v logged %q, want it to contain %q", repeatWarnInterval, summary, want)
		}
	}
	if got, want := write(repeatWarnInterval+2*time.Second, "coordinator:7946"), "level=DEBUG"; !strings.Contains(got, want) {
		t.Errorf("failure after the summary logged %q, want it to contain %q", got, want)
	}

	// Another address has its own count.
	if got, want := write(repeatWarnInterval+4*time.Second, "other:7946"), "level=WARN"; !strings.Contains(got, want) {
		t.Errorf("first failure of another address logged %q, want it to contain %q", got, want)
	}

	// After a minute without failures, as when the address resolved for a
	// while, the next failure is a plain warning again.
	again := write(3*repeatWarnInterval, "coordinator:7946")
	if !strings.Contains(again, "level=WARN") || strings.Contains(again, "attempts=") {
		t.Errorf("failure after a quiet minute logged %q, want a warning without attempts", again)
	}
}

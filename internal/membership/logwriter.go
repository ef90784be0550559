package membership

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
)

// logWriter turns memberlist's "[LEVEL] memberlist: text" lines into slog
// records, so they keep their severity under the process's handler.
type logWriter struct {
	logger *slog.Logger
}

func (w logWriter) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(bytes.TrimRight(p, "\n"), []byte("\n")) {
		w.logLine(string(line))
	}
	return len(p), nil
}

func (w logWriter) logLine(line string) {
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
	if strings.HasPrefix(line, "Conflicting address for ") {
		level = min(level, slog.LevelWarn)
	}
	w.logger.Log(context.Background(), level, line, "component", "memberlist")
}

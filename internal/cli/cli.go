// Package cli holds what the ringtrain commands share: flags that fall back
// to RINGTRAIN_ environment variables, and the choice of log handler.
package cli

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// EnvName returns the environment variable that stands in for a flag:
// RINGTRAIN_ and the flag name in upper case with dashes as underscores.
func EnvName(flagName string) string {
	return "RINGTRAIN_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// ApplyEnv sets every flag of fs that the command line left unset from its
// environment variable, when that is set and not empty. Call it after
// fs.Parse. A value the flag rejects is an error naming the variable.
func ApplyEnv(fs *flag.FlagSet, lookup func(string) (string, bool)) error {
	_, err := ApplyEnvSources(fs, lookup)
	return err
}

// ApplyEnvSources is [ApplyEnv], and also returns the flags set on the
// command line or from the environment, each mapped to the source of its
// value: "--name" or the variable's name. Error messages about a value use
// the source, so they name what the user wrote.
func ApplyEnvSources(fs *flag.FlagSet, lookup func(string) (string, bool)) (map[string]string, error) {
	sources := make(map[string]string)
	fs.Visit(func(f *flag.Flag) { sources[f.Name] = "--" + f.Name })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if sources[f.Name] != "" || err != nil {
			return
		}
		// An empty variable is unset, as a shell's VAR= usually means.
		value, ok := lookup(EnvName(f.Name))
		if !ok || value == "" {
			return
		}
		if setErr := fs.Set(f.Name, value); setErr != nil {
			err = fmt.Errorf("invalid %s=%q: %w", EnvName(f.Name), value, setErr)
			return
		}
		sources[f.Name] = EnvName(f.Name)
	})
	return sources, err
}

// Usage returns a usage function for fs that lists every flag with its
// environment variable and default.
func Usage(fs *flag.FlagSet, synopsis string) func() {
	return func() {
		w := fs.Output()
		fmt.Fprintf(w, "%s\n\nFlags (each also read from the environment variable shown):\n", synopsis)
		fs.VisitAll(func(f *flag.Flag) {
			name, usage := flag.UnquoteUsage(f)
			fmt.Fprintf(w, "  --%s %s\n    \t%s [%s", f.Name, name, usage, EnvName(f.Name))
			if f.DefValue != "" {
				fmt.Fprintf(w, ", default %s", f.DefValue)
			}
			fmt.Fprintln(w, "]")
		})
	}
}

// NewLogger returns a logger writing to w in the given format, "text" or
// "json", at the given level, "debug", "info", "warn" or "error".
func NewLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("invalid log level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("invalid log format %q: want text or json", format)
}

// ErrorLine returns the line a command prints for err: the error prefixed
// with the program's name, unless the error already starts with it, as the
// errors of the package of the same name do.
func ErrorLine(program string, err error) string {
	msg := err.Error()
	if strings.HasPrefix(msg, program+": ") {
		return msg
	}
	return program + ": " + msg
}

// Hostname returns the machine's host name, or "node" when it has none.
func Hostname() string {
	if name, err := os.Hostname(); err == nil && name != "" {
		return name
	}
	return "node"
}

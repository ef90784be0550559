package cli_test

import (
	"flag"
	"testing"
	"time"

	"github.com/ringtrain/ringtrain/internal/cli"
)

func TestCheckFlagsNamesSource(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"flag", []string{"--epochs", "0"}, nil, "invalid --epochs 0: want 1 or more"},
		{"env", nil, map[string]string{"RINGTRAIN_EPOCHS": "0"}, "invalid RINGTRAIN_EPOCHS=0: want 1 or more"},
		{"probe interval", []string{"--probe-interval", "1ns"}, nil, "invalid --probe-interval 1ns: want at least 10ms"},
		{"negative probe interval", []string{"--probe-interval", "-1s"}, nil, "invalid --probe-interval -1s: want at least 10ms"},
		{"suspicion multiplier", []string{"--suspicion-mult", "-3"}, nil, "invalid --suspicion-mult -3: want 1 or more"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			epochs := fs.Int("epochs", 10, "")
			probe := fs.Duration("probe-interval", time.Second, "")
			mult := fs.Int("suspicion-mult", 4, "")
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			sources, err := cli.ApplyEnvSources(fs, func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok })
			if err != nil {
				t.Fatal(err)
			}
			checks := append([]cli.Check{cli.Require("epochs", *epochs >= 1, "1 or more")}, cli.MembershipChecks(*probe, *mult)...)
			err = cli.CheckFlags(fs, sources, checks...)
			if err == nil || err.Error() != tt.want {
				t.Errorf("CheckFlags() = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestCheckFlagsSkipsDefaults(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	epochs := fs.Int("epochs", 0, "")
	fs.Parse(nil)
	sources, err := cli.ApplyEnvSources(fs, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.CheckFlags(fs, sources, cli.Check{Flag: "epochs", OK: *epochs >= 1, Want: "1 or more"}); err != nil {
		t.Errorf("CheckFlags() on a default = %v, want nil", err)
	}
}

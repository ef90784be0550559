package main

import (
	"io"
	"strings"
	"testing"
)

func TestParseFlagsRejectsMembershipRange(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"tiny probe interval", []string{"--probe-interval", "1ns"}, "invalid --probe-interval 1ns: want at least 10ms"},
		{"negative probe interval", []string{"--probe-interval", "-1s"}, "invalid --probe-interval -1s"},
		{"negative suspicion", []string{"--suspicion-mult", "-3"}, "invalid --suspicion-mult -3: want 1 or more"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseFlags(tt.args, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("parseFlags(%q) = %v, want an error containing %q", tt.args, err, tt.want)
			}
		})
	}
}

package main

import (
	"io"
	"strings"
	"testing"
)

func TestModeFlags(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		mode       string
		microBatch int
	}{
		{name: "defaults", mode: "fast", microBatch: 0},
		{name: "flags", args: []string{"--mode", "exact", "--micro-batch", "8"}, mode: "exact", microBatch: 8},
		{name: "environment", env: map[string]string{"RINGTRAIN_MODE": "exact", "RINGTRAIN_MICRO_BATCH": "32"},
			mode: "exact", microBatch: 32},
		{name: "flag wins", args: []string{"--mode", "fast"}, env: map[string]string{"RINGTRAIN_MODE": "exact"},
			mode: "fast", microBatch: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			o, err := parseFlags(tt.args, io.Discard)
			if err != nil {
				t.Fatalf("parseFlags(%q): %v", tt.args, err)
			}
			if o.coord.Mode != tt.mode {
				t.Errorf("mode = %q, want %q", o.coord.Mode, tt.mode)
			}
			if o.coord.MicroBatch != tt.microBatch {
				t.Errorf("micro-batch = %d, want %d", o.coord.MicroBatch, tt.microBatch)
			}
		})
	}
}

func TestMicroBatchEnvNotANumber(t *testing.T) {
	t.Setenv("RINGTRAIN_MICRO_BATCH", "sixteen")
	_, err := parseFlags(nil, io.Discard)
	if err == nil {
		t.Fatal("parseFlags succeeded with RINGTRAIN_MICRO_BATCH=sixteen, want an error")
	}
	if !strings.Contains(err.Error(), `RINGTRAIN_MICRO_BATCH="sixteen"`) {
		t.Errorf("error = %q, want it to name RINGTRAIN_MICRO_BATCH and its value", err)
	}
}

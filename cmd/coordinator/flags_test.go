package main

import (
	"bytes"
	"io"
	"log/slog"
	"strings"
	"testing"
)

func TestParseFlagsRejectsRange(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"zero epochs", []string{"--epochs", "0"}, "invalid --epochs 0: want 1 or more"},
		{"zero batch", []string{"--batch-size", "0"}, "invalid --batch-size 0"},
		{"zero lr", []string{"--lr", "0"}, "invalid --lr 0"},
		{"infinite lr", []string{"--lr", "Inf"}, "invalid --lr +Inf: want a positive finite number"},
		{"NaN momentum", []string{"--momentum", "NaN"}, "invalid --momentum NaN"},
		{"zero step timeout", []string{"--step-timeout", "0"}, "invalid --step-timeout 0s"},
		{"zero rpc timeout", []string{"--rpc-timeout", "0"}, "invalid --rpc-timeout 0s"},
		{"zero checkpoint every", []string{"--checkpoint-every", "0"}, "invalid --checkpoint-every 0"},
		{"zero checkpoint keep", []string{"--checkpoint-keep", "0"}, "invalid --checkpoint-keep 0"},
		{"tiny probe interval", []string{"--probe-interval", "1ns"}, "invalid --probe-interval 1ns: want at least 10ms"},
		{"negative suspicion", []string{"--suspicion-mult", "-3"}, "invalid --suspicion-mult -3: want 1 or more"},
		{"empty mode", []string{"--mode", ""}, `invalid --mode "": want fast or exact`},
		{"micro-batch in fast mode", []string{"--micro-batch", "99"}, "invalid --micro-batch 99: want --mode exact as well"},
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

func TestParseFlagsEnvironmentRange(t *testing.T) {
	t.Setenv("RINGTRAIN_EPOCHS", "0")
	_, err := parseFlags(nil, io.Discard)
	if want := "invalid RINGTRAIN_EPOCHS=0: want 1 or more"; err == nil || err.Error() != want {
		t.Errorf("parseFlags with RINGTRAIN_EPOCHS=0 = %v, want %q", err, want)
	}
}

func TestParseFlagsEmptyEnvironment(t *testing.T) {
	t.Setenv("RINGTRAIN_EPOCHS", "")
	o, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatalf("parseFlags with RINGTRAIN_EPOCHS= = %v, want no error", err)
	}
	if o.coord.Epochs != 10 {
		t.Errorf("epochs = %d, want the default 10", o.coord.Epochs)
	}
}

func TestParseFlagsKeepsZeroSeedAndMomentum(t *testing.T) {
	o, err := parseFlags([]string{"--seed", "0", "--momentum", "0", "--optimizer", "sgd"}, io.Discard)
	if err != nil {
		t.Fatalf("parseFlags: %v", err)
	}
	if !o.coord.ZeroSeed || o.coord.Seed != 0 {
		t.Errorf("seed %d, ZeroSeed %v, want seed 0 kept", o.coord.Seed, o.coord.ZeroSeed)
	}
	if !o.coord.ZeroMomentum || o.coord.Momentum != 0 {
		t.Errorf("momentum %g, ZeroMomentum %v, want momentum 0 kept", o.coord.Momentum, o.coord.ZeroMomentum)
	}

	o, err = parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatalf("parseFlags: %v", err)
	}
	if o.coord.ZeroSeed || o.coord.ZeroMomentum {
		t.Errorf("ZeroSeed %v, ZeroMomentum %v without flags, want both false", o.coord.ZeroSeed, o.coord.ZeroMomentum)
	}
}

func TestWarnMissingWorkers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name              string
		local, minWorkers int
		wantWarning       bool
	}{
		{"enough local workers", 3, 3, false},
		{"no local workers", 0, 3, false},
		{"too few local workers", 1, 3, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&buf, nil))
			opts := &options{localWorkers: tt.local}
			opts.coord.MinWorkers = tt.minWorkers
			warnMissingWorkers(logger, opts, "127.0.0.1:7946")
			got := buf.String()
			if !tt.wantWarning {
				if got != "" {
					t.Errorf("log = %q, want nothing", got)
				}
				return
			}
			for _, want := range []string{"level=WARN", "missing=2", "join=127.0.0.1:7946"} {
				if !strings.Contains(got, want) {
					t.Errorf("log = %q, want it to contain %q", got, want)
				}
			}
		})
	}
}

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

func TestOverlapFlag(t *testing.T) {
	tests := []struct {
		name                string
		args                []string
		env                 map[string]string
		reduceAfterBackward bool
	}{
		{name: "default", reduceAfterBackward: false},
		{name: "flag", args: []string{"--overlap=false"}, reduceAfterBackward: true},
		{name: "environment", env: map[string]string{"RINGTRAIN_OVERLAP": "false"}, reduceAfterBackward: true},
		{name: "flag wins", args: []string{"--overlap"}, env: map[string]string{"RINGTRAIN_OVERLAP": "false"},
			reduceAfterBackward: false},
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
			if o.coord.ReduceAfterBackward != tt.reduceAfterBackward {
				t.Errorf("ReduceAfterBackward = %t, want %t", o.coord.ReduceAfterBackward, tt.reduceAfterBackward)
			}
		})
	}
}

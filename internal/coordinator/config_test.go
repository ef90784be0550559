package coordinator

import (
	"math"
	"strings"
	"testing"
)

func TestValidateRejectsNonFinite(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		set  func(c *Config)
		want string
	}{
		{"lr Inf", func(c *Config) { c.LearningRate = math.Inf(1) }, "learning rate +Inf"},
		{"lr NaN", func(c *Config) { c.LearningRate = math.NaN() }, "learning rate NaN"},
		{"epsilon Inf", func(c *Config) { c.Epsilon = math.Inf(1) }, "epsilon +Inf"},
		{"beta1 NaN", func(c *Config) { c.Beta1 = math.NaN() }, "betas NaN"},
		{"beta2 Inf", func(c *Config) { c.Beta2 = math.Inf(1) }, "+Inf"},
		{"momentum NaN", func(c *Config) { c.Momentum = math.NaN() }, "momentum NaN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := DefaultConfig()
			tt.set(&cfg)
			err := cfg.validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("validate() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestValidateZeroSeedAndMomentum(t *testing.T) {
	t.Parallel()
	cfg := Config{Optimizer: "sgd", ZeroSeed: true, ZeroMomentum: true}
	if err := cfg.validate(); err != nil {
		t.Fatalf("validate() = %v", err)
	}
	if cfg.Seed != 0 || cfg.Momentum != 0 {
		t.Errorf("seed %d, momentum %g after validate, want 0 and 0", cfg.Seed, cfg.Momentum)
	}

	cfg = Config{}
	if err := cfg.validate(); err != nil {
		t.Fatalf("validate() = %v", err)
	}
	if d := DefaultConfig(); cfg.Seed != d.Seed || cfg.Momentum != d.Momentum {
		t.Errorf("seed %d, momentum %g from zero values, want the defaults %d and %g", cfg.Seed, cfg.Momentum, d.Seed, d.Momentum)
	}
}

func TestValidateMode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		mode       string
		batch      int
		microBatch int
		wantMode   string
		wantMicro  int
		err        string // part of the error; empty for none
	}{
		{name: "default", wantMode: "fast", wantMicro: 16},
		{name: "exact default micro-batch", mode: "exact", wantMode: "exact", wantMicro: 16},
		{name: "small batch", mode: "exact", batch: 8, wantMode: "exact", wantMicro: 8},
		{name: "micro-batch equals batch", mode: "exact", batch: 32, microBatch: 32, wantMode: "exact", wantMicro: 32},
		{name: "unknown mode", mode: "precise", err: `unknown mode "precise": want fast or exact`},
		{name: "mode in capitals", mode: "EXACT", err: `unknown mode "EXACT"`},
		{name: "micro-batch above batch", mode: "exact", microBatch: 65,
			err: "invalid micro-batch 65: want 1 to the batch size 64"},
		{name: "negative micro-batch", mode: "exact", microBatch: -1,
			err: "invalid micro-batch -1: want 1 to the batch size 64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := Config{Mode: tt.mode, BatchSize: tt.batch, MicroBatch: tt.microBatch}
			err := cfg.validate()
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("validate() error = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("validate(): %v", err)
			}
			if cfg.Mode != tt.wantMode {
				t.Errorf("mode = %q, want %q", cfg.Mode, tt.wantMode)
			}
			if cfg.MicroBatch != tt.wantMicro {
				t.Errorf("micro-batch = %d, want %d", cfg.MicroBatch, tt.wantMicro)
			}
		})
	}
}

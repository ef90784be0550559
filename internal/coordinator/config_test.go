package coordinator

import (
	"strings"
	"testing"
)

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

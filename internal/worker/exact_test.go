package worker

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/ringtrain/ringtrain/internal/nn"
)

func TestCheckMicroBatches(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                            string
		offset, rows, batch, microBatch int
		err                             string // part of the error; empty for none
	}{
		{name: "whole batch", offset: 0, rows: 64, batch: 64, microBatch: 16},
		{name: "middle run", offset: 16, rows: 32, batch: 64, microBatch: 16},
		{name: "short last micro-batch", offset: 32, rows: 24, batch: 56, microBatch: 16},
		{name: "empty slice", offset: 0, rows: 0, batch: 20, microBatch: 16},
		{name: "empty slice at the end", offset: 20, rows: 0, batch: 20, microBatch: 16},
		{name: "empty slice past the batch", offset: 21, rows: 0, batch: 20, microBatch: 16,
			err: "does not fit in a global batch of 20"},
		{name: "unaligned start", offset: 8, rows: 16, batch: 64, microBatch: 16,
			err: "position 8 of the global batch, which is not a multiple of the micro-batch size 16"},
		{name: "ends inside a micro-batch", offset: 0, rows: 24, batch: 64, microBatch: 16,
			err: "ends inside a micro-batch of 16"},
		{name: "past the batch", offset: 48, rows: 32, batch: 64, microBatch: 16,
			err: "does not fit in a global batch of 64"},
		{name: "no batch", offset: 0, rows: 0, batch: 0, microBatch: 16,
			err: "does not fit in a global batch of 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := checkMicroBatches(tt.offset, tt.rows, tt.batch, tt.microBatch)
			if tt.err == "" {
				if err != nil {
					t.Errorf("checkMicroBatches(%d, %d, %d, %d): %v", tt.offset, tt.rows, tt.batch, tt.microBatch, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("checkMicroBatches(%d, %d, %d, %d) error = %v, want one containing %q",
					tt.offset, tt.rows, tt.batch, tt.microBatch, err, tt.err)
			}
		})
	}
}

func TestLossRangeError(t *testing.T) {
	t.Parallel()
	tests := []struct {
		loss float64
		want string
	}{
		{loss: math.NaN(), want: "value outside the fixed-point range: loss sum is NaN: training has diverged"},
		{loss: math.Inf(1), want: "loss sum is +Inf"},
		{loss: 3e8, want: "loss sum 3e+08 is at or beyond the limit of ±2.68435456e+08"},
	}
	for _, tt := range tests {
		err := lossRangeError(tt.loss, nn.FixedLimit(4))
		if !errors.Is(err, nn.ErrFixedPointRange) {
			t.Errorf("lossRangeError(%v) = %v, want an error wrapping ErrFixedPointRange", tt.loss, err)
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("lossRangeError(%v) = %q, want it to contain %q", tt.loss, err, tt.want)
		}
	}
}

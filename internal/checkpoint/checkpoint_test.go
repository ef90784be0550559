package checkpoint_test

import (
	"errors"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ringtrain/ringtrain/internal/checkpoint"
	"github.com/ringtrain/ringtrain/internal/nn"
	"github.com/ringtrain/ringtrain/internal/tensor"
)

var testJob = checkpoint.Job{Model: "4-3relu-2", Dataset: "mnist", Optimizer: "adam", BatchSize: 64, Seed: 1, TrainSamples: 100}

func sample(step uint64) *checkpoint.Checkpoint {
	params := []float32{1, 2, 3, float32(step)}
	return &checkpoint.Checkpoint{
		Header: checkpoint.Header{
			JobID: "job", Job: testJob, Step: step, Generation: 3, Epoch: 1, Offset: 64,
			Optimizer: "adam", OptimizerSteps: int64(step), Fingerprint: tensor.Fingerprint(params),
		},
		Params: params,
		State:  [][]float32{{0.1, 0.2, 0.3, 0.4}, {0.01, 0.02, 0.03, 0.04}},
	}
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestWriteReadRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	want := sample(10)
	path, err := checkpoint.Write(dir, want, 3)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	if got, want := filepath.Base(path), "ckpt-000000000010.rtc"; got != want {
		t.Errorf("Write path %q, want %q", got, want)
	}
	got, err := checkpoint.Read(path)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Read after Write (-want +got):\n%s", diff)
	}
}

func TestWriteKeepsNewest(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, step := range []uint64{5, 10, 15, 20} {
		if _, err := checkpoint.Write(dir, sample(step), 2); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{"ckpt-000000000015.rtc", "ckpt-000000000020.rtc"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("folder after four writes keeping 2 (-want +got):\n%s", diff)
	}
}

func TestReadRejectsDamage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path, err := checkpoint.Write(dir, sample(7), 0)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	flipped := append([]byte(nil), data...)
	flipped[len(flipped)-20] ^= 0x40
	version := append([]byte(nil), data...)
	version[8] = 2

	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"flipped byte", flipped, checkpoint.ErrChecksum},
		{"cut short", data[:len(data)-9], checkpoint.ErrTruncated},
		{"other version", version, checkpoint.ErrVersion},
		{"not a checkpoint", []byte("model file, not a checkpoint"), checkpoint.ErrFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "ckpt-000000000007.rtc")
			if err := os.WriteFile(p, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := checkpoint.Read(p); !errors.Is(err, tt.want) {
				t.Errorf("Read(%s) error = %v, want %v", tt.name, err, tt.want)
			}
		})
	}
}

func TestLatestSkipsDamagedFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, step := range []uint64{10, 20} {
		if _, err := checkpoint.Write(dir, sample(step), 0); err != nil {
			t.Fatal(err)
		}
	}
	newest := filepath.Join(dir, checkpoint.FileName(20))
	data, _ := os.ReadFile(newest)
	os.WriteFile(newest, data[:len(data)/2], 0o644)

	c, err := checkpoint.Latest(dir, testJob, quietLogger())
	if err != nil {
		t.Fatalf("Latest: %v", err)
	}
	if c == nil || c.Header.Step != 10 {
		t.Fatalf("Latest returned %+v, want the checkpoint of step 10", c)
	}
}

func TestLatestRejectsOtherJob(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := checkpoint.Write(dir, sample(10), 0); err != nil {
		t.Fatal(err)
	}
	other := testJob
	other.Model = "4-8relu-2"
	if _, err := checkpoint.Latest(dir, other, quietLogger()); !errors.Is(err, checkpoint.ErrOtherJob) {
		t.Errorf("Latest for another model error = %v, want ErrOtherJob", err)
	}
}

func TestLatestRejectsOtherHyperparameters(t *testing.T) {
	t.Parallel()
	hyper := checkpoint.Hyperparameters{LearningRate: 0.001, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8, Momentum: 0.9}
	dir := t.TempDir()
	saved := sample(10)
	saved.Header.Job.Hyperparameters = &hyper
	if _, err := checkpoint.Write(dir, saved, 0); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		change func(h *checkpoint.Hyperparameters)
		want   string
	}{
		{"learning rate", func(h *checkpoint.Hyperparameters) { h.LearningRate = 0.01 }, "learning rate 0.001, not 0.01"},
		{"beta2", func(h *checkpoint.Hyperparameters) { h.Beta2 = 0.99 }, "Adam beta2 0.999, not 0.99"},
		{"epsilon", func(h *checkpoint.Hyperparameters) { h.Epsilon = 1e-6 }, "Adam epsilon 1e-08, not 1e-06"},
		{"momentum", func(h *checkpoint.Hyperparameters) { h.Momentum = 0 }, "momentum 0.9, not 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			other := hyper
			tt.change(&other)
			job := testJob
			job.Hyperparameters = &other
			_, err := checkpoint.Latest(dir, job, quietLogger())
			if !errors.Is(err, checkpoint.ErrOtherJob) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Latest error = %v, want ErrOtherJob naming %q", err, tt.want)
			}
		})
	}

	job := testJob
	job.Hyperparameters = &hyper
	if _, err := checkpoint.Latest(dir, job, quietLogger()); err != nil {
		t.Errorf("Latest with the same settings = %v, want nil", err)
	}
	if _, err := checkpoint.Latest(dir, testJob, quietLogger()); err != nil {
		t.Errorf("Latest with no recorded settings = %v, want nil", err)
	}
}

func TestLatestEmptyFolder(t *testing.T) {
	t.Parallel()
	c, err := checkpoint.Latest(filepath.Join(t.TempDir(), "missing"), testJob, quietLogger())
	if err != nil || c != nil {
		t.Errorf("Latest(missing folder) = %v, %v, want nil, nil", c, err)
	}
}

func TestAdamResumesExactly(t *testing.T) {
	t.Parallel()
	newAdam := func() *nn.Adam {
		a := nn.DefaultAdam()
		a.M, a.V = make([]float32, 1), make([]float32, 1)
		return a
	}
	straight, params := newAdam(), []float32{1}
	for _, g := range []float32{1, 1, 1} {
		straight.Step(params, []float32{g})
	}

	// Save after three steps, load into a fresh optimizer, then take the
	// fourth step on both.
	dir := t.TempDir()
	ck := &checkpoint.Checkpoint{
		Header: checkpoint.Header{Job: testJob, Step: 3, Optimizer: "adam", OptimizerSteps: straight.T, Fingerprint: tensor.Fingerprint(params)},
		Params: append([]float32(nil), params...),
		State:  [][]float32{append([]float32(nil), straight.M...), append([]float32(nil), straight.V...)},
	}
	path, err := checkpoint.Write(dir, ck, 0)
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := checkpoint.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	resumed := newAdam()
	copy(resumed.M, loaded.State[0])
	copy(resumed.V, loaded.State[1])
	resumed.T = loaded.Header.OptimizerSteps
	resumedParams := append([]float32(nil), loaded.Params...)

	straight.Step(params, []float32{-0.5})
	resumed.Step(resumedParams, []float32{-0.5})
	if resumedParams[0] != params[0] {
		t.Errorf("resumed parameter %v, uninterrupted %v, want the same bits", resumedParams[0], params[0])
	}
	if got, want := float64(resumedParams[0]), 0.996374382102; math.Abs(got-want) > 1e-6 {
		t.Errorf("resumed parameter %.12f, want %.12f", got, want)
	}

	// Resetting the optimizer state instead gives another value.
	reset, resetParams := newAdam(), append([]float32(nil), loaded.Params...)
	reset.Step(resetParams, []float32{-0.5})
	if got, want := float64(resetParams[0]), 0.998000000010; math.Abs(got-want) > 1e-6 {
		t.Errorf("parameter after a reset optimizer %.12f, want %.12f", got, want)
	}
}

func TestLatestChecksMode(t *testing.T) {
	t.Parallel()
	exact := testJob
	exact.Mode, exact.MicroBatch = "exact", 16
	fast := testJob
	fast.Mode = "fast"
	tests := []struct {
		name    string
		written checkpoint.Job
		resumed checkpoint.Job
		err     string // part of the error; empty for a match
	}{
		{name: "exact from exact", written: exact, resumed: exact},
		{name: "fast from a checkpoint without mode", written: testJob, resumed: fast},
		{name: "exact from fast", written: fast, resumed: exact, err: "mode fast, not exact"},
		{name: "exact from a checkpoint without mode", written: testJob, resumed: exact, err: "mode fast, not exact"},
		{name: "fast from exact", written: exact, resumed: fast, err: "mode exact, not fast"},
		{name: "other micro-batch", written: exact, resumed: checkpoint.Job{
			Model: exact.Model, Dataset: exact.Dataset, Optimizer: exact.Optimizer, BatchSize: exact.BatchSize,
			Seed: exact.Seed, TrainSamples: exact.TrainSamples, Mode: "exact", MicroBatch: 8,
		}, err: "micro-batch 16, not 8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			ck := sample(10)
			ck.Header.Job = tt.written
			if _, err := checkpoint.Write(dir, ck, 0); err != nil {
				t.Fatal(err)
			}
			got, err := checkpoint.Latest(dir, tt.resumed, quietLogger())
			if tt.err == "" {
				if err != nil || got == nil {
					t.Fatalf("Latest = %v, %v, want the checkpoint of step 10", got, err)
				}
				return
			}
			if !errors.Is(err, checkpoint.ErrOtherJob) {
				t.Fatalf("Latest error = %v, want ErrOtherJob", err)
			}
			if !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Latest error = %q, want it to contain %q", err, tt.err)
			}
		})
	}
}

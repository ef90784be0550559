package coordinator

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ringtrain/ringtrain/internal/checkpoint"
	"github.com/ringtrain/ringtrain/internal/tensor"
)

// roundTrip writes a checkpoint of step 7 whose header carries progress and
// returns a coordinator resumed from the file read back.
func roundTrip(t *testing.T, progress []byte) *Coordinator {
	t.Helper()
	params := []float32{1, 2, 3}
	ck := &checkpoint.Checkpoint{
		Header: checkpoint.Header{JobID: "job", Step: 7, Epoch: 1, Offset: 448, Progress: progress,
			Fingerprint: tensor.Fingerprint(params)},
		Params: params,
	}
	path, err := checkpoint.Write(t.TempDir(), ck, 1)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	read, err := checkpoint.Read(path)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	c := &Coordinator{status: newStatusBoard("job", DefaultConfig())}
	if err := c.resumeFrom(read); err != nil {
		t.Fatalf("resumeFrom: %v", err)
	}
	return c
}

func TestCheckpointKeepsEpochSums(t *testing.T) {
	t.Parallel()
	saved := &Coordinator{status: newStatusBoard("job", DefaultConfig())}
	history := []EpochStats{{Epoch: 1, Samples: 600, TrainSamples: 536, TrainLoss: 0.5, TrainAccuracy: 0.8,
		TestLoss: 0.4, TestAccuracy: 0.85, Seconds: 3.5, Failures: 1}}
	saved.status.update(func(s *Status) { s.History = history })
	saved.pos = position{epoch: 1, offset: 448, step: 7,
		lossSum: 123.25, correct: 401, lossSamples: 448, seconds: 2.75, failures: 2}
	progress, err := json.Marshal(saved.progress())
	if err != nil {
		t.Fatalf("encode progress: %v", err)
	}

	c := roundTrip(t, progress)
	want := savedProgress{History: history, LossSum: 123.25, Correct: 401, LossSamples: 448, Seconds: 2.75, Failures: 2}
	if diff := cmp.Diff(want, c.progress()); diff != "" {
		t.Errorf("progress after a checkpoint round trip (-want +got):\n%s", diff)
	}
	if c.pos.epoch != 1 || c.pos.offset != 448 || c.pos.step != 7 {
		t.Errorf("position epoch %d, offset %d, step %d, want 1, 448, 7", c.pos.epoch, c.pos.offset, c.pos.step)
	}
}

func TestCheckpointWithoutTrainSamples(t *testing.T) {
	t.Parallel()
	// The progress of a checkpoint written before the history counted the
	// samples behind its train figures.
	progress := []byte(`{"history":[{"epoch":1,"samples":600,"train_loss":0.5,"train_accuracy":0.8,` +
		`"test_loss":0.4,"test_accuracy":0.85,"seconds":3.5,"failures":0}],` +
		`"loss_sum":10,"correct":50,"loss_samples":64,"seconds":1,"failures":0}`)

	c := roundTrip(t, progress)
	history := c.status.snapshot().History
	if len(history) != 1 {
		t.Fatalf("history has %d epochs, want 1", len(history))
	}
	if got := history[0].TrainSamples; got != 600 {
		t.Errorf("train_samples of an older history entry = %d, want its samples, 600", got)
	}
	if c.pos.lossSum != 10 || c.pos.correct != 50 || c.pos.lossSamples != 64 {
		t.Errorf("sums %g, %d correct over %d samples, want 10, 50 over 64", c.pos.lossSum, c.pos.correct, c.pos.lossSamples)
	}
}

func TestCheckpointWithoutProgress(t *testing.T) {
	t.Parallel()
	c := roundTrip(t, nil)
	if diff := cmp.Diff(savedProgress{History: []EpochStats{}}, c.progress()); diff != "" {
		t.Errorf("progress of a checkpoint without any (-want +got):\n%s", diff)
	}
}

// Package checkpoint writes and finds the coordinator's checkpoints: the
// parameters, the optimizer state and the job's position, so a job resumes
// after a crash without losing committed steps.
//
// # Format
//
// All integers are little-endian.
//
//	magic        8 bytes   "RTCKPT\x00\x00"
//	version      uint32    1
//	header size  uint32    n
//	header       n bytes   JSON, see [Header]
//	vectors      4 * p * (1 + k) bytes of float32: the p parameters, then
//	             the k optimizer state vectors of p values each
//	checksum     uint32    CRC-32C of every byte before it
//
// Files are named ckpt-<step>.rtc with the step zero-padded to 12 digits,
// so their names sort by step.
package checkpoint

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ringtrain/ringtrain/internal/modelfile"
	"github.com/ringtrain/ringtrain/internal/tensor"
)

// Version is the format version this package writes and reads.
const Version = 1

var magic = []byte("RTCKPT\x00\x00")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors that [Read] wraps, for callers that branch on the cause.
var (
	ErrFormat   = errors.New("not a ringtrain checkpoint")
	ErrVersion  = errors.New("unsupported checkpoint version")
	ErrChecksum = errors.New("checkpoint checksum mismatch")
	// ErrTruncated means the file is shorter than its header announces.
	ErrTruncated = errors.New("checkpoint truncated")
	// ErrOtherJob means the checkpoint belongs to another job spec.
	ErrOtherJob = errors.New("checkpoint of another job")
)

// Job is the part of a job that a checkpoint must match to be resumed: a
// checkpoint of another model or dataset cannot continue this run.
type Job struct {
	Model     string    `json:"model"`
	Dataset   string    `json:"dataset"`
	NormMean  []float32 `json:"norm_mean,omitempty"`
	NormStd   []float32 `json:"norm_std,omitempty"`
	Optimizer string    `json:"optimizer"`
	BatchSize int       `json:"batch_size"`
	Seed      uint64    `json:"seed"`
	// TrainSamples is the size of the training set the epochs cover.
	TrainSamples int `json:"train_samples"`
	// Hyperparameters are the optimizer's settings. Nil means the
	// checkpoint records none, and then any settings match.
	Hyperparameters *Hyperparameters `json:"hyperparameters,omitempty"`
	// Mode is "fast" or "exact". Checkpoints written before exact mode
	// existed have none, which means fast.
	Mode string `json:"mode,omitempty"`
	// MicroBatch is the micro-batch size of exact mode, 0 in fast mode.
	MicroBatch int `json:"micro_batch,omitempty"`
}

// Hyperparameters are the settings of the optimizer, of which Beta1, Beta2
// and Epsilon are Adam's and Momentum is SGD's. Resuming under other
// settings would silently change the run that the checkpoint continues.
type Hyperparameters struct {
	LearningRate float64 `json:"learning_rate"`
	Beta1        float64 `json:"beta1"`
	Beta2        float64 `json:"beta2"`
	Epsilon      float64 `json:"epsilon"`
	Momentum     float64 `json:"momentum"`
}

// mismatch returns a description of the first setting in which h and
// other differ, or "" when they match.
func (h Hyperparameters) mismatch(other Hyperparameters) string {
	settings := []struct {
		name        string
		value, want float64
	}{
		{"learning rate", h.LearningRate, other.LearningRate},
		{"Adam beta1", h.Beta1, other.Beta1},
		{"Adam beta2", h.Beta2, other.Beta2},
		{"Adam epsilon", h.Epsilon, other.Epsilon},
		{"momentum", h.Momentum, other.Momentum},
	}
	for _, setting := range settings {
		if setting.value != setting.want {
			return fmt.Sprintf("%s %g, not %g", setting.name, setting.value, setting.want)
		}
	}
	return ""
}

// mode returns j.Mode, with the empty mode of older checkpoints as "fast".
func (j Job) mode() string {
	if j.Mode == "" {
		return "fast"
	}
	return j.Mode
}

// Mismatch returns a description of the first field in which j and other
// differ, or "" when they match.
func (j Job) Mismatch(other Job) string {
	switch {
	case j.Model != other.Model:
		return fmt.Sprintf("model %q, not %q", j.Model, other.Model)
	case j.Dataset != other.Dataset:
		return fmt.Sprintf("dataset %q, not %q", j.Dataset, other.Dataset)
	case !slices.Equal(j.NormMean, other.NormMean) || !slices.Equal(j.NormStd, other.NormStd):
		return "another input normalisation"
	case j.Optimizer != other.Optimizer:
		return fmt.Sprintf("optimizer %q, not %q", j.Optimizer, other.Optimizer)
	case j.BatchSize != other.BatchSize:
		return fmt.Sprintf("batch size %d, not %d", j.BatchSize, other.BatchSize)
	case j.Seed != other.Seed:
		return fmt.Sprintf("seed %d, not %d", j.Seed, other.Seed)
	case j.TrainSamples != other.TrainSamples:
		return fmt.Sprintf("%d training samples, not %d", j.TrainSamples, other.TrainSamples)
	case j.mode() != other.mode():
		return fmt.Sprintf("mode %s, not %s", j.mode(), other.mode())
	case j.MicroBatch != other.MicroBatch:
		return fmt.Sprintf("micro-batch %d, not %d", j.MicroBatch, other.MicroBatch)
	case j.Hyperparameters != nil && other.Hyperparameters != nil:
		return j.Hyperparameters.mismatch(*other.Hyperparameters)
	}
	return ""
}

// Header is everything in a checkpoint but the vectors.
type Header struct {
	JobID string `json:"job_id"`
	Job   Job    `json:"job"`
	// Step is the committed step the state belongs to.
	Step uint64 `json:"step"`
	// Generation is the last generation the coordinator installed, so the
	// next one it forms after a restart is newer.
	Generation uint64 `json:"generation"`
	// Epoch (from 0) and Offset locate the next sample in the epoch order.
	Epoch  int `json:"epoch"`
	Offset int `json:"offset"`
	// Progress is the coordinator's record of the epoch in progress and of
	// the finished ones, opaque to this package.
	Progress json.RawMessage `json:"progress,omitempty"`

	ParamCount     int    `json:"param_count"`
	Optimizer      string `json:"optimizer"`
	OptimizerSteps int64  `json:"optimizer_steps"`
	StateVectors   int    `json:"state_vectors"`
	Fingerprint    uint64 `json:"fingerprint"`
}

// Checkpoint is a header and the vectors it describes.
type Checkpoint struct {
	Header Header
	Params []float32
	// State holds the optimizer's vectors, each as long as Params.
	State [][]float32
}

// FileName returns the name of the checkpoint of a step.
func FileName(step uint64) string {
	return fmt.Sprintf("ckpt-%012d.rtc", step)
}

// Write stores c in dir under [FileName] atomically and then removes all
// but the newest keep checkpoints. It returns the path written.
func Write(dir string, c *Checkpoint, keep int) (string, error) {
	c.Header.ParamCount = len(c.Params)
	c.Header.StateVectors = len(c.State)
	for i, v := range c.State {
		if len(v) != len(c.Params) {
			return "", fmt.Errorf("checkpoint: state vector %d has %d values, parameters have %d", i, len(v), len(c.Params))
		}
	}
	header, err := json.Marshal(c.Header)
	if err != nil {
		return "", fmt.Errorf("checkpoint: encode header: %w", err)
	}
	data := make([]byte, 0, 20+len(header)+4*len(c.Params)*(1+len(c.State)))
	data = append(data, magic...)
	data = binary.LittleEndian.AppendUint32(data, Version)
	data = binary.LittleEndian.AppendUint32(data, uint32(len(header)))
	data = append(data, header...)
	data = tensor.AppendFloat32s(data, c.Params)
	for _, v := range c.State {
		data = tensor.AppendFloat32s(data, v)
	}
	data = binary.LittleEndian.AppendUint32(data, crc32.Checksum(data, castagnoli))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("checkpoint: create folder: %w", err)
	}
	path := filepath.Join(dir, FileName(c.Header.Step))
	if err := modelfile.WriteAtomic(path, data); err != nil {
		return "", fmt.Errorf("checkpoint: %w", err)
	}
	if keep > 0 {
		prune(dir, keep)
	}
	return path, nil
}

// prune removes all but the newest keep checkpoints of dir.
func prune(dir string, keep int) {
	names := list(dir)
	for _, name := range names[:max(0, len(names)-keep)] {
		os.Remove(filepath.Join(dir, name))
	}
}

// list returns the checkpoint file names in dir, oldest first.
func list(dir string) []string {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasPrefix(e.Name(), "ckpt-") && strings.HasSuffix(e.Name(), ".rtc") {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	return names
}

// Latest returns the newest valid checkpoint in dir, or nil when there is
// none. Damaged files are logged and skipped, never loaded. A valid
// checkpoint of another job is an error wrapping [ErrOtherJob], because
// resuming it would mix two jobs and skipping it could lose its progress.
func Latest(dir string, job Job, logger *slog.Logger) (*Checkpoint, error) {
	if logger == nil {
		logger = slog.Default()
	}
	names := list(dir)
	for i := len(names) - 1; i >= 0; i-- {
		path := filepath.Join(dir, names[i])
		c, err := Read(path)
		if err != nil {
			logger.Warn("skipping damaged checkpoint", "path", path, "err", err)
			continue
		}
		if diff := c.Header.Job.Mismatch(job); diff != "" {
			return nil, fmt.Errorf("checkpoint: %s holds a job with %s: %w; use another --checkpoint-dir or the flags of that job",
				path, diff, ErrOtherJob)
		}
		return c, nil
	}
	return nil, nil
}

// Read loads and verifies one checkpoint file.
func Read(path string) (*Checkpoint, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %w", err)
	}
	c, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %s: %w", path, err)
	}
	return c, nil
}

func decode(data []byte) (*Checkpoint, error) {
	const fixed = 8 + 4 + 4
	if len(data) < fixed || !bytes.Equal(data[:8], magic) {
		return nil, fmt.Errorf("%w: missing magic %q", ErrFormat, magic[:6])
	}
	if v := binary.LittleEndian.Uint32(data[8:]); v != Version {
		return nil, fmt.Errorf("%w: file has version %d, this build reads version %d", ErrVersion, v, Version)
	}

	// The header announces the file's size, so a cut-short file is told
	// apart from a corrupt one before the checksum is checked.
	c := &Checkpoint{}
	headerLen := int(binary.LittleEndian.Uint32(data[12:]))
	headerOK := fixed+headerLen <= len(data) && json.Unmarshal(data[fixed:fixed+headerLen], &c.Header) == nil &&
		c.Header.ParamCount >= 0 && c.Header.StateVectors >= 0
	h := &c.Header
	if headerOK {
		want := fixed + headerLen + 4*h.ParamCount*(1+h.StateVectors) + 4
		if len(data) < want {
			return nil, fmt.Errorf("%w: file is %d bytes, its header announces %d", ErrTruncated, len(data), want)
		}
		if len(data) > want {
			return nil, fmt.Errorf("%w: file is %d bytes, its header announces %d", ErrFormat, len(data), want)
		}
	}
	body := data[:len(data)-4]
	if got, want := crc32.Checksum(body, castagnoli), binary.LittleEndian.Uint32(data[len(data)-4:]); got != want {
		return nil, fmt.Errorf("%w: computed %08x, stored %08x: the file is corrupt", ErrChecksum, got, want)
	}
	if !headerOK {
		return nil, fmt.Errorf("%w: unreadable header", ErrFormat)
	}

	vectors := body[fixed+headerLen:]
	n := 4 * h.ParamCount
	c.Params = make([]float32, h.ParamCount)
	tensor.DecodeFloat32s(c.Params, vectors[:n])
	for i := range h.StateVectors {
		v := make([]float32, h.ParamCount)
		tensor.DecodeFloat32s(v, vectors[n*(1+i):n*(2+i)])
		c.State = append(c.State, v)
	}
	if got := tensor.Fingerprint(c.Params); got != h.Fingerprint {
		return nil, fmt.Errorf("%w: parameters have fingerprint %s, header announces %s", ErrChecksum, tensor.FormatFingerprint(got), tensor.FormatFingerprint(h.Fingerprint))
	}
	return c, nil
}

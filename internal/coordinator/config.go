package coordinator

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"time"

	"github.com/ringtrain/ringtrain/internal/dataset"
	"github.com/ringtrain/ringtrain/internal/membership"
)

// The modes of [Config.Mode].
const (
	ModeFast  = "fast"
	ModeExact = "exact"
)

// Config configures a [Coordinator].
type Config struct {
	// Dataset is "mnist" or "cifar10". Default "mnist".
	Dataset string
	// DataDir, when set, is the only place the dataset is read from.
	DataDir string
	// CacheDir holds downloaded datasets. Empty means the user cache folder.
	CacheDir string
	// Model is a preset name or a layer spec. Default: the dataset's
	// preset, mnist-mlp or cifar10-mlp.
	Model string
	// Normalize selects input normalisation: "auto" (per-channel mean and
	// standard deviation for CIFAR-10, none for MNIST), "meanstd" or
	// "none". Default "auto".
	Normalize string
	// Epochs is the number of passes over the training set. Default 10.
	Epochs int
	// BatchSize is the global batch: samples per step over all workers.
	// Default 64.
	BatchSize int
	// Optimizer is "adam" or "sgd". Default "adam".
	Optimizer string
	// LearningRate of the optimizer. Default 0.001.
	LearningRate float64
	// Beta1, Beta2 and Epsilon are Adam's. Defaults 0.9, 0.999 and 1e-8.
	Beta1, Beta2, Epsilon float64
	// Momentum of SGD. Default 0.9, so 0 means 0.9 unless ZeroMomentum
	// is set.
	Momentum float64
	// ZeroMomentum makes a Momentum of 0 mean plain gradient descent
	// rather than the default.
	ZeroMomentum bool
	// Seed fixes the initial parameters, the epoch orders and the dropout
	// masks. Default 1, so 0 means 1 unless ZeroSeed is set.
	Seed uint64
	// ZeroSeed makes a Seed of 0 a seed of its own rather than the default.
	ZeroSeed bool
	// Mode selects how gradients are summed. "fast" sums the float32
	// gradients of the workers' slices, so the result depends on the
	// number of workers in its last bits. "exact" sums fixed-point
	// gradients of micro-batches as int64, so the model after every step
	// is the same, bit for bit, for any number of workers and through
	// failures. Default "fast".
	Mode string
	// MicroBatch is the number of samples of one micro-batch in exact
	// mode, from 1 to BatchSize. Each global batch is cut into
	// micro-batches from its start, the last one possibly smaller, and
	// each is computed whole on one worker. Fast mode does not use it.
	// Default 16, or BatchSize when that is smaller.
	MicroBatch int
	// ReduceAfterBackward makes the workers of a fast-mode job start the
	// all-reduce of a step only when the whole backward pass has ended.
	// By default they sum the gradient in buckets of whole layers, each as
	// soon as the backward pass has finished its layers, while it goes on
	// with the earlier layers. Both give the same bits, so this only
	// changes the time a step takes. Exact mode does not use it.
	// Default false.
	ReduceAfterBackward bool
	// TrainSamples, when positive, limits training to the first that many
	// samples of the training set, for quick runs. Default 0: all.
	TrainSamples int
	// TestSamples, when positive, limits evaluation to the first that many
	// samples of the test set. Default 0: all.
	TestSamples int
	// MinWorkers is the number of workers below which training waits.
	// Default 1.
	MinWorkers int

	// Name is the coordinator's memberlist node name. Default "coordinator".
	Name string
	// GRPCAddr, HTTPAddr and GossipAddr are listen addresses, host:port.
	// Port 0 picks a free port. Defaults ":7070", ":8080" and ":7946".
	GRPCAddr, HTTPAddr, GossipAddr string
	// AdvertiseHost is the host workers use to reach the coordinator.
	// Empty means memberlist's choice.
	AdvertiseHost string
	// Membership tunes failure detection; zero fields take the defaults of
	// [membership.DefaultConfig].
	Membership membership.Config

	// StepTimeout bounds one training step on the workers, the all-reduce
	// included. A worker that stops responding without closing its
	// connections is detected within this time, or sooner when memberlist
	// declares it dead. Default 15s.
	StepTimeout time.Duration
	// RPCTimeout bounds every other call to a worker. Default 30s.
	RPCTimeout time.Duration

	// CheckpointDir, when set, is where checkpoints are written and where
	// a restarted coordinator resumes from.
	CheckpointDir string
	// CheckpointEvery is the number of steps between checkpoints; one is
	// also written at the end of every epoch. Default 500.
	CheckpointEvery int
	// CheckpointKeep is the number of newest checkpoints kept. Default 3.
	CheckpointKeep int

	// Output, when set, is where the trained model is written.
	Output string
	// History, when set, is where the final status document is written.
	History string

	// Logger receives the coordinator's logs. Nil means slog.Default().
	Logger *slog.Logger
	// Progress receives dataset download progress and, when ProgressBar
	// is set, a progress bar per epoch. Nil means none.
	Progress io.Writer
	// ProgressBar draws the per-epoch bar on Progress; set it when
	// Progress is a terminal.
	ProgressBar bool
}

// DefaultConfig returns the defaults: mnist-mlp on MNIST for 10 epochs at
// global batch 64 with Adam.
func DefaultConfig() Config {
	return Config{
		Dataset:         "mnist",
		Normalize:       "auto",
		Epochs:          10,
		BatchSize:       64,
		Optimizer:       "adam",
		LearningRate:    0.001,
		Beta1:           0.9,
		Beta2:           0.999,
		Epsilon:         1e-8,
		Momentum:        0.9,
		Seed:            1,
		Mode:            ModeFast,
		MicroBatch:      16,
		MinWorkers:      1,
		Name:            "coordinator",
		GRPCAddr:        ":7070",
		HTTPAddr:        ":8080",
		GossipAddr:      ":7946",
		StepTimeout:     15 * time.Second,
		CheckpointEvery: 500,
		CheckpointKeep:  3,
		RPCTimeout:      30 * time.Second,
	}
}

// validate fills zero values with defaults and rejects values that cannot
// work, naming the field, the value and the fix.
func (c *Config) validate() error {
	d := DefaultConfig()
	setDefault(&c.Dataset, d.Dataset)
	setDefault(&c.Normalize, d.Normalize)
	setDefault(&c.Epochs, d.Epochs)
	setDefault(&c.BatchSize, d.BatchSize)
	setDefault(&c.Optimizer, d.Optimizer)
	setDefault(&c.LearningRate, d.LearningRate)
	setDefault(&c.Beta1, d.Beta1)
	setDefault(&c.Beta2, d.Beta2)
	setDefault(&c.Epsilon, d.Epsilon)
	if !c.ZeroMomentum {
		setDefault(&c.Momentum, d.Momentum)
	}
	if !c.ZeroSeed {
		setDefault(&c.Seed, d.Seed)
	}
	setDefault(&c.Mode, d.Mode)
	setDefault(&c.MicroBatch, min(d.MicroBatch, c.BatchSize))
	setDefault(&c.MinWorkers, d.MinWorkers)
	setDefault(&c.Name, d.Name)
	setDefault(&c.GRPCAddr, d.GRPCAddr)
	setDefault(&c.HTTPAddr, d.HTTPAddr)
	setDefault(&c.GossipAddr, d.GossipAddr)
	setDefault(&c.StepTimeout, d.StepTimeout)
	setDefault(&c.RPCTimeout, d.RPCTimeout)
	setDefault(&c.CheckpointEvery, d.CheckpointEvery)
	setDefault(&c.CheckpointKeep, d.CheckpointKeep)
	if c.Logger == nil {
		c.Logger = slog.Default()
	}

	if !slices.Contains(dataset.Names(), c.Dataset) {
		return fmt.Errorf("coordinator: unknown dataset %q: want one of %v", c.Dataset, dataset.Names())
	}
	if c.Model == "" {
		c.Model = map[string]string{"mnist": "mnist-mlp", "cifar10": "cifar10-mlp"}[c.Dataset]
	}
	switch {
	case !slices.Contains([]string{"auto", "meanstd", "none"}, c.Normalize):
		return fmt.Errorf("coordinator: invalid normalization %q: want auto, meanstd or none", c.Normalize)
	case c.Epochs < 0:
		return fmt.Errorf("coordinator: invalid epochs %d: want 1 or more", c.Epochs)
	case c.BatchSize < 1 || c.BatchSize > 65536:
		return fmt.Errorf("coordinator: invalid batch size %d: want 1 to 65536", c.BatchSize)
	case c.Mode != ModeFast && c.Mode != ModeExact:
		return fmt.Errorf("coordinator: unknown mode %q: want fast or exact", c.Mode)
	case c.Mode == ModeExact && (c.MicroBatch < 1 || c.MicroBatch > c.BatchSize):
		return fmt.Errorf("coordinator: invalid micro-batch %d: want 1 to the batch size %d", c.MicroBatch, c.BatchSize)
	case c.Optimizer != "adam" && c.Optimizer != "sgd":
		return fmt.Errorf("coordinator: unknown optimizer %q: want adam or sgd", c.Optimizer)
	case !(c.LearningRate > 0) || math.IsInf(c.LearningRate, 1):
		return fmt.Errorf("coordinator: invalid learning rate %g: want a positive finite number", c.LearningRate)
	case !(c.Beta1 >= 0 && c.Beta1 < 1) || !(c.Beta2 >= 0 && c.Beta2 < 1):
		return fmt.Errorf("coordinator: invalid Adam betas %g, %g: want each in [0, 1)", c.Beta1, c.Beta2)
	case !(c.Epsilon > 0) || math.IsInf(c.Epsilon, 1):
		return fmt.Errorf("coordinator: invalid Adam epsilon %g: want a positive finite number", c.Epsilon)
	case !(c.Momentum >= 0 && c.Momentum < 1):
		return fmt.Errorf("coordinator: invalid momentum %g: want a value in [0, 1)", c.Momentum)
	case c.CheckpointEvery < 0 || c.CheckpointKeep < 0:
		return fmt.Errorf("coordinator: invalid checkpoint settings every %d steps, keep %d: want positive numbers", c.CheckpointEvery, c.CheckpointKeep)
	case c.TrainSamples < 0 || c.TestSamples < 0:
		return fmt.Errorf("coordinator: invalid sample limits %d, %d: want 0 (all) or more", c.TrainSamples, c.TestSamples)
	case c.MinWorkers < 1:
		return fmt.Errorf("coordinator: invalid minimum workers %d: want 1 or more", c.MinWorkers)
	case c.StepTimeout < 0 || c.RPCTimeout < 0:
		return fmt.Errorf("coordinator: invalid timeouts %v, %v: want positive durations", c.StepTimeout, c.RPCTimeout)
	}
	return nil
}

func setDefault[T comparable](field *T, value T) {
	var zero T
	if *field == zero {
		*field = value
	}
}

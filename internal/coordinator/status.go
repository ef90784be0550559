package coordinator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/ringtrain/ringtrain/internal/dashboard"
	"github.com/ringtrain/ringtrain/internal/modelfile"
)

// Job states as /status reports them.
const (
	StateLoading    = "loading"
	StateWaiting    = "waiting"
	StateForming    = "forming"
	StateTraining   = "training"
	StateEvaluating = "evaluating"
	StateFinished   = "finished"
	StateFailed     = "failed"
	// StateStopped follows a stop by the caller, as on SIGTERM; see
	// [ErrStopped].
	StateStopped = "stopped"
)

// maxEvents is the number of recent events /status keeps.
const maxEvents = 200

// maxStepPoints bounds the per-step loss series of /status.
const maxStepPoints = 2000

// Status is the document /status serves and --history writes.
type Status struct {
	JobID string `json:"job_id"`
	State string `json:"state"`
	// Error is set when State is failed.
	Error        string  `json:"error,omitempty"`
	Dataset      string  `json:"dataset"`
	Model        string  `json:"model"`
	Params       int     `json:"params"`
	BatchSize    int     `json:"batch_size"`
	Epochs       int     `json:"epochs"`
	Optimizer    string  `json:"optimizer"`
	LearningRate float64 `json:"learning_rate"`
	Seed         uint64  `json:"seed"`
	Mode         string  `json:"mode,omitempty"`        // "fast" or "exact"
	MicroBatch   int     `json:"micro_batch,omitempty"` // exact mode only
	MinWorkers   int     `json:"min_workers"`
	Generation   uint64  `json:"generation"`
	// Epoch is the epoch in progress, counted from 1; after the job it is
	// the last epoch.
	Epoch int `json:"epoch"`
	// Step counts the committed steps since the job began.
	Step uint64 `json:"step"`
	// EpochSamples counts the training samples committed in this epoch.
	EpochSamples int `json:"epoch_samples"`
	// Fingerprint is the xxHash of the parameters that every worker last
	// agreed on, as 16 hex digits.
	Fingerprint string         `json:"fingerprint"`
	Workers     []WorkerStatus `json:"workers"`
	History     []EpochStats   `json:"history"`
	// Generations lists every membership view of the job and why it
	// replaced the one before, oldest first.
	Generations []GenerationChange `json:"generations"`
	// LastCheckpoint is the path and step of the newest checkpoint written.
	LastCheckpoint *CheckpointInfo `json:"last_checkpoint,omitempty"`
	// StepLoss is the training loss of the global batch per step, averaged
	// over blocks of steps so that at most maxStepPoints points remain.
	StepLoss  []StepPoint `json:"step_loss"`
	Events    []Event     `json:"events"`
	StartedAt time.Time   `json:"started_at"`
	UpdatedAt time.Time   `json:"updated_at"`
}

// WorkerStatus is one worker's row in [Status].
type WorkerStatus struct {
	ID      string `json:"id"`
	Address string `json:"address"`
	State   string `json:"state"`
	Step    uint64 `json:"step"`
	// ComputeSeconds and AllReduceSeconds are the worker's time per step in
	// computation and in the all-reduce, as moving averages. Computation is
	// the optimizer step of the previous step, the forward pass and the
	// backward pass.
	// OverlapSeconds is the part of AllReduceSeconds that ran while the
	// backward pass was still running, so a worker's step takes about
	// ComputeSeconds + AllReduceSeconds - OverlapSeconds.
	ComputeSeconds   float64 `json:"compute_seconds"`
	AllReduceSeconds float64 `json:"allreduce_seconds"`
	OverlapSeconds   float64 `json:"overlap_seconds"`
	// SamplesPerSecond is the worker's slice size over its step time.
	SamplesPerSecond float64 `json:"samples_per_second"`
}

// StepPoint is the mean training loss of the steps up to Step since the
// previous point.
type StepPoint struct {
	Step uint64  `json:"step"`
	Loss float64 `json:"loss"`
}

// EpochStats summarises one finished epoch. TrainLoss and TrainAccuracy are
// sample-weighted means over the TrainSamples samples of the epoch's steps,
// each measured with the parameters of its step. The test figures use the
// parameters at the end of the epoch.
type EpochStats struct {
	Epoch   int `json:"epoch"`
	Samples int `json:"samples"`
	// TrainSamples counts the samples that TrainLoss and TrainAccuracy
	// average. It is less than Samples when the coordinator restarted and
	// resumed from the workers' state, because the sums of the steps after
	// its newest checkpoint were lost with it.
	TrainSamples  int     `json:"train_samples"`
	TrainLoss     float64 `json:"train_loss"`
	TrainAccuracy float64 `json:"train_accuracy"`
	TestLoss      float64 `json:"test_loss"`
	TestAccuracy  float64 `json:"test_accuracy"`
	Seconds       float64 `json:"seconds"`
	// Failures counts the steps abandoned in this epoch because a worker
	// failed; each was run again, so Samples stays exact.
	Failures int `json:"failures"`
}

// GenerationChange is one membership view and the reason it was formed.
type GenerationChange struct {
	Generation uint64    `json:"generation"`
	Time       time.Time `json:"time"`
	Step       uint64    `json:"step"`
	Workers    []string  `json:"workers"`
	Reason     string    `json:"reason"`
}

// CheckpointInfo names a written checkpoint.
type CheckpointInfo struct {
	Path string    `json:"path"`
	Step uint64    `json:"step"`
	Time time.Time `json:"time"`
}

// Event is a change in the job's life: a worker joining or failing, a new
// view, an epoch's end.
type Event struct {
	Time    time.Time `json:"time"`
	Message string    `json:"message"`
}

// statusBoard is the job's status, written by the training loop and read by
// the HTTP handlers. Writers hold its lock only to copy values in, never
// across an RPC, so a read does not wait for a step.
type statusBoard struct {
	workers func() []WorkerStatus

	// mu guards doc and the block of steps not yet in doc.StepLoss.
	mu  sync.Mutex
	doc Status
	// stride is the number of steps each point of doc.StepLoss averages.
	stride     int
	blockSum   float64
	blockSteps int
}

func newStatusBoard(jobID string, cfg Config) *statusBoard {
	now := time.Now().UTC()
	return &statusBoard{doc: Status{
		JobID:        jobID,
		State:        StateLoading,
		Dataset:      cfg.Dataset,
		Model:        cfg.Model,
		BatchSize:    cfg.BatchSize,
		Epochs:       cfg.Epochs,
		Optimizer:    cfg.Optimizer,
		LearningRate: cfg.LearningRate,
		Seed:         cfg.Seed,
		Mode:         cfg.Mode,
		MicroBatch:   exactMicroBatch(cfg),
		MinWorkers:   cfg.MinWorkers,
		History:      []EpochStats{},
		StepLoss:     []StepPoint{},
		Generations:  []GenerationChange{},
		Events:       []Event{},
		StartedAt:    now,
		UpdatedAt:    now,
	}}
}

func (b *statusBoard) update(f func(s *Status)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f(&b.doc)
	b.doc.UpdatedAt = time.Now().UTC()
}

// addStepLoss records the mean loss of one committed step. When the series
// is full, neighbouring points merge and each point then covers twice as
// many steps.
func (b *statusBoard) addStepLoss(step uint64, loss float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stride == 0 {
		b.stride = 1
	}
	b.blockSum += loss
	b.blockSteps++
	if b.blockSteps < b.stride {
		return
	}
	b.doc.StepLoss = append(b.doc.StepLoss, StepPoint{Step: step, Loss: b.blockSum / float64(b.blockSteps)})
	b.blockSum, b.blockSteps = 0, 0
	if len(b.doc.StepLoss) >= maxStepPoints {
		points := b.doc.StepLoss
		merged := points[:0]
		for i := 0; i+1 < len(points); i += 2 {
			merged = append(merged, StepPoint{Step: points[i+1].Step, Loss: (points[i].Loss + points[i+1].Loss) / 2})
		}
		b.doc.StepLoss = merged
		b.stride *= 2
	}
}

func (b *statusBoard) setState(state string) {
	b.update(func(s *Status) { s.State = state })
}

func (b *statusBoard) fail(err error) {
	b.update(func(s *Status) {
		s.State = StateFailed
		s.Error = err.Error()
	})
}

func (b *statusBoard) event(format string, args ...any) {
	b.update(func(s *Status) {
		s.Events = append(s.Events, Event{Time: time.Now().UTC(), Message: fmt.Sprintf(format, args...)})
		if len(s.Events) > maxEvents {
			s.Events = append(s.Events[:0], s.Events[len(s.Events)-maxEvents:]...)
		}
	})
}

// snapshot returns a deep copy of the document, with the worker rows as
// they are now.
func (b *statusBoard) snapshot() Status {
	var workers []WorkerStatus
	if b.workers != nil {
		workers = b.workers()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.doc
	s.History = append([]EpochStats{}, b.doc.History...)
	s.Events = append([]Event{}, b.doc.Events...)
	s.StepLoss = append([]StepPoint{}, b.doc.StepLoss...)
	s.Generations = append([]GenerationChange{}, b.doc.Generations...)
	s.Workers = workers
	if s.Workers == nil {
		s.Workers = []WorkerStatus{}
	}
	return s
}

func (b *statusBoard) writeFile(path string) error {
	data, err := json.MarshalIndent(b.snapshot(), "", "  ")
	if err != nil {
		return fmt.Errorf("coordinator: encode status: %w", err)
	}
	if err := modelfile.WriteAtomic(path, append(data, '\n')); err != nil {
		return fmt.Errorf("coordinator: write status: %w", err)
	}
	return nil
}

func (c *Coordinator) routes() http.Handler {
	c.status.workers = c.registry.snapshot
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("GET /status", c.serveStatus)
	mux.Handle("GET /metrics", c.metrics.Handler())
	mux.Handle("GET /", dashboard.Handler())
	return mux
}

// serveStatus encodes the whole document before it writes the header, so a
// value JSON cannot hold is a 500 with the error, not a truncated 200.
func (c *Coordinator) serveStatus(w http.ResponseWriter, r *http.Request) {
	data, err := json.MarshalIndent(c.status.snapshot(), "", "  ")
	if err != nil {
		c.logger.Error("encode status failed", "err", err)
		http.Error(w, "encode status: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(data, '\n'))
}

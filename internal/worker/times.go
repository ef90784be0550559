package worker

import (
	"sync"
	"time"
)

// StepTimes are a worker's totals over the steps it completed, the
// all-reduce included, since it started. The coordinator receives each
// step's times in its StepResponse. These totals serve benchmarks that run
// the workers in their own process.
type StepTimes struct {
	Steps int
	// Compute is the time in the optimizer step of the previous step and
	// in the forward and backward passes.
	Compute time.Duration
	// AllReduce is the time in all-reduce collectives, Overlap of it while
	// the backward pass was still running. A step took about
	// Compute + AllReduce - Overlap.
	AllReduce time.Duration
	Overlap   time.Duration
}

// stepTimes accumulates [StepTimes]. It has its own lock, so reading the
// totals does not wait for a step in flight.
type stepTimes struct {
	mu     sync.Mutex
	totals StepTimes // guarded by mu
}

func (s *stepTimes) add(compute, allReduce, overlap time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.totals.Steps++
	s.totals.Compute += compute
	s.totals.AllReduce += allReduce
	s.totals.Overlap += overlap
}

// StepTimes returns the totals of the steps that the worker completed. It
// is safe for concurrent use.
func (w *Worker) StepTimes() StepTimes {
	w.times.mu.Lock()
	defer w.times.mu.Unlock()
	return w.times.totals
}

package worker

import (
	"fmt"

	"github.com/ringtrain/ringtrain/internal/nn"
	ringtrainpb "github.com/ringtrain/ringtrain/proto/ringtrain/v1"
)

// optimizer adapts the optimizers of package nn to the state transfer
// between workers: a step count and a fixed number of vectors, each as long
// as the parameters.
type optimizer interface {
	step(params, grad []float32)
	reset()
	steps() int64
	setSteps(int64)
	vectors() [][]float32
}

func newOptimizer(job *ringtrainpb.JobSpec, n int) (optimizer, error) {
	switch job.GetOptimizer() {
	case "adam", "":
		return &adam{a: &nn.Adam{
			LR:    job.GetLearningRate(),
			Beta1: job.GetBeta1(),
			Beta2: job.GetBeta2(),
			Eps:   job.GetEpsilon(),
			M:     make([]float32, n),
			V:     make([]float32, n),
		}}, nil
	case "sgd":
		return &sgd{s: &nn.SGD{
			LR:       job.GetLearningRate(),
			Momentum: job.GetMomentum(),
			Velocity: make([]float32, n),
		}}, nil
	}
	return nil, fmt.Errorf("worker: unknown optimizer %q: want adam or sgd", job.GetOptimizer())
}

type adam struct{ a *nn.Adam }

func (o *adam) step(params, grad []float32) { o.a.Step(params, grad) }
func (o *adam) steps() int64                { return o.a.T }
func (o *adam) setSteps(t int64)            { o.a.T = t }
func (o *adam) vectors() [][]float32        { return [][]float32{o.a.M, o.a.V} }
func (o *adam) reset() {
	clear(o.a.M)
	clear(o.a.V)
	o.a.T = 0
}

type sgd struct{ s *nn.SGD }

func (o *sgd) step(params, grad []float32) { o.s.Step(params, grad) }
func (o *sgd) steps() int64                { return o.s.T }
func (o *sgd) setSteps(t int64)            { o.s.T = t }
func (o *sgd) vectors() [][]float32        { return [][]float32{o.s.Velocity} }
func (o *sgd) reset()                      { clear(o.s.Velocity) }

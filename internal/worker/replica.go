package worker

import (
	"fmt"

	"github.com/ringtrain/ringtrain/internal/dataset"
	"github.com/ringtrain/ringtrain/internal/nn"
	"github.com/ringtrain/ringtrain/internal/tensor"
	ringtrainpb "github.com/ringtrain/ringtrain/proto/ringtrain/v1"
)

// replica is the model, optimizer and position of one worker in one job.
//
// A step's gradient is summed over the ring and then held in the network's
// gradient buffer as pending until the coordinator commits the step, which
// the next request says implicitly. Applying the optimizer late costs no
// copy of the parameters: a step abandoned on failure is dropped by
// discarding the pending gradient, and the parameters never held it.
type replica struct {
	job      *ringtrainpb.JobSpec
	spec     nn.Spec
	net      *nn.Network
	opt      optimizer
	norm     dataset.Normalization
	channels int
	dim      int
	maxBatch int

	// exact is set in exact mode, where each micro-batch of microBatch
	// samples is computed whole and its gradient is added to fixedSum in
	// fixed point.
	exact      bool
	microBatch int
	fixedSum   []int64

	// buckets are the collectives of a fast-mode step, from the last
	// layer's to the first's.
	buckets []bucket

	// step is the committed step the parameters belong to.
	step uint64
	// pending is the step whose reduced gradient waits in the gradient
	// buffer, or zero.
	pending     uint64
	fingerprint uint64
	hasState    bool

	x       []float32
	dlogits []float32
}

func newReplica(job *ringtrainpb.JobSpec) (*replica, error) {
	spec, err := nn.ResolveSpec(job.GetModel())
	if err != nil {
		return nil, fmt.Errorf("worker: job %s: %w", job.GetJobId(), err)
	}
	if got, want := uint64(spec.ParamCount()), job.GetParamCount(); got != want {
		return nil, fmt.Errorf("worker: job %s: model %q has %d parameters here but %d at the coordinator: run the same ringtrain version on every node", job.GetJobId(), job.GetModel(), got, want)
	}
	dim := int(job.GetChannels() * job.GetHeight() * job.GetWidth())
	if spec.Inputs != dim {
		return nil, fmt.Errorf("worker: job %s: model takes %d inputs, samples have %d", job.GetJobId(), spec.Inputs, dim)
	}
	exact, err := checkMode(job)
	if err != nil {
		return nil, err
	}
	maxBatch := max(int(job.GetBatchSize()), 256)
	net, err := nn.NewNetwork(spec, maxBatch)
	if err != nil {
		return nil, fmt.Errorf("worker: job %s: %w", job.GetJobId(), err)
	}
	opt, err := newOptimizer(job, len(net.Params()))
	if err != nil {
		return nil, err
	}
	classes := spec.Layers[len(spec.Layers)-1].Units
	r := &replica{
		job:      job,
		spec:     spec,
		net:      net,
		opt:      opt,
		norm:     dataset.Normalization{Mean: job.GetNormMean(), Std: job.GetNormStd()},
		channels: int(job.GetChannels()),
		dim:      dim,
		maxBatch: maxBatch,
		x:        make([]float32, maxBatch*dim),
		dlogits:  make([]float32, maxBatch*classes),
	}
	r.buckets = planBuckets(net, len(spec.Layers), minBucketValues)
	if exact {
		r.exact = true
		r.microBatch = int(job.GetMicroBatch())
		r.fixedSum = make([]int64, len(net.Params()))
	}
	return r, nil
}

// checkMode returns whether job runs in exact mode, and an error for an
// unknown mode or a micro-batch size outside 1 to the batch size.
func checkMode(job *ringtrainpb.JobSpec) (exact bool, err error) {
	switch job.GetMode() {
	case "", "fast":
		return false, nil
	case "exact":
		if mb, batch := job.GetMicroBatch(), job.GetBatchSize(); mb < 1 || mb > batch {
			return false, fmt.Errorf("worker: job %s: invalid micro-batch %d: want 1 to the batch size %d", job.GetJobId(), mb, batch)
		}
		return true, nil
	}
	return false, fmt.Errorf("worker: job %s: unknown mode %q: want fast or exact; run the same ringtrain version on every node", job.GetJobId(), job.GetMode())
}

func (r *replica) classes() int { return r.spec.Layers[len(r.spec.Layers)-1].Units }

// initialize sets the parameters from the job seed, the same bits on every
// worker, and the optimizer to its start.
func (r *replica) initialize() {
	r.net.Init(r.job.GetSeed())
	r.opt.reset()
	r.step = 0
	r.pending = 0
	r.hasState = true
	r.fingerprint = tensor.Fingerprint(r.net.Params())
}

// commitThrough applies the pending gradient if its step is committed, that
// is, at or before step.
func (r *replica) commitThrough(step uint64) {
	if r.pending == 0 || r.pending > step {
		return
	}
	r.opt.step(r.net.Params(), r.net.Grad())
	r.step = r.pending
	r.pending = 0
	r.fingerprint = tensor.Fingerprint(r.net.Params())
}

// settle brings the replica to the committed step of a new view: a pending
// gradient of a later step is dropped. It reports whether the replica then
// holds exactly that step.
func (r *replica) settle(committed uint64) bool {
	r.commitThrough(committed)
	if r.pending != 0 {
		r.pending = 0
	}
	return r.hasState && r.step == committed
}

// decode fills the input scratch with rows of pixels.
func (r *replica) decode(samples *ringtrainpb.Samples) (x []float32, labels []uint8, rows int, err error) {
	rows = int(samples.GetCount())
	if rows > r.maxBatch {
		return nil, nil, 0, fmt.Errorf("%d samples exceed the batch limit of %d", rows, r.maxBatch)
	}
	if got, want := len(samples.GetPixels()), rows*r.dim; got != want {
		return nil, nil, 0, fmt.Errorf("got %d pixel bytes for %d samples of %d, want %d", got, rows, r.dim, want)
	}
	if got := len(samples.GetLabels()); got != rows {
		return nil, nil, 0, fmt.Errorf("got %d labels for %d samples", got, rows)
	}
	x = r.x[:rows*r.dim]
	r.norm.Decode(x, samples.GetPixels(), r.dim, r.channels)
	return x, samples.GetLabels(), rows, nil
}

package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/ringtrain/ringtrain/internal/allreduce"
	"github.com/ringtrain/ringtrain/internal/nn"
	"github.com/ringtrain/ringtrain/internal/tensor"
	ringtrainpb "github.com/ringtrain/ringtrain/proto/ringtrain/v1"
)

// stateChunkBytes is the payload of one state transfer message, well under
// gRPC's default 4 MiB limit.
const stateChunkBytes = 1 << 20

// Configure installs a new membership view. The ring switches to the new
// generation first, which fails a collective of the old view still in
// flight, so a step blocked on a dead peer returns and releases the replica.
func (w *Worker) Configure(ctx context.Context, req *ringtrainpb.ConfigureRequest) (*ringtrainpb.ConfigureResponse, error) {
	w.viewMu.Lock()
	// Generations order the views of one job. A coordinator starting a new
	// job counts from 1 again.
	if jobID := req.GetJob().GetJobId(); jobID != w.jobID {
		w.jobID = jobID
		w.generation = 0
		w.ring.Reset()
	}
	if req.GetGeneration() <= w.generation {
		current := w.generation
		w.viewMu.Unlock()
		return nil, status.Errorf(codes.FailedPrecondition, "worker %s: generation %d is not newer than current generation %d", w.cfg.Name, req.GetGeneration(), current)
	}
	peers := make([]string, len(req.GetRing()))
	for i, p := range req.GetRing() {
		peers[i] = p.GetGrpcAddress()
	}
	rank := int(req.GetRank())
	if rank >= len(peers) || peers[rank] != w.grpcAddr {
		w.viewMu.Unlock()
		return nil, status.Errorf(codes.InvalidArgument, "worker %s: rank %d of a ring of %d does not name this worker's address %s", w.cfg.Name, rank, len(peers), w.grpcAddr)
	}
	if err := w.ring.SetView(allreduce.View{Generation: req.GetGeneration(), Rank: rank, Peers: peers}); err != nil {
		w.viewMu.Unlock()
		return nil, status.Errorf(codes.Internal, "worker %s: install ring view: %v", w.cfg.Name, err)
	}
	w.generation = req.GetGeneration()
	w.viewMu.Unlock()

	w.stateMu.Lock()
	defer w.stateMu.Unlock()
	if w.replica == nil || !proto.Equal(w.replica.job, req.GetJob()) {
		r, err := newReplica(req.GetJob())
		if err != nil {
			w.logger.Error("configure rejected", "generation", req.GetGeneration(), "err", err)
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
		w.replica = r
		w.logger.Info("job installed", "job", req.GetJob().GetJobId(), "model", r.spec.String(), "params", len(r.net.Params()))
	}
	r := w.replica
	ready := r.settle(req.GetCommittedStep())
	if !ready && req.GetInitialize() && req.GetCommittedStep() == 0 {
		r.initialize()
		ready = true
	}
	if !ready {
		r.hasState = false
	}
	w.logger.Info("view installed", "generation", req.GetGeneration(), "rank", rank, "ring_size", len(peers), "step", r.step, "has_state", ready)
	return &ringtrainpb.ConfigureResponse{Step: r.step, HasState: ready, Fingerprint: r.fingerprint}, nil
}

// Step computes the gradient of this worker's slice, sums it over the ring
// and holds the sum until the step is committed. In fast mode the sum runs
// in buckets of whole layers, each started while the backward pass goes on
// with the earlier layers, as backwardAndReduce describes. In exact mode
// the slice is computed micro-batch by micro-batch and summed in fixed
// point, as exactStep describes.
func (w *Worker) Step(ctx context.Context, req *ringtrainpb.StepRequest) (*ringtrainpb.StepResponse, error) {
	w.stateMu.Lock()
	defer w.stateMu.Unlock()
	// The compute time starts before replicaAt, because committing the
	// previous step, the optimizer step and the fingerprint, is part of
	// this step's work.
	start := time.Now()
	r, err := w.replicaAt(req.GetGeneration(), req.GetStep()-1)
	if err != nil {
		return nil, err
	}
	if timeout := time.Duration(r.job.GetStepTimeoutMs()) * time.Millisecond; timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}

	x, labels, rows, err := r.decode(req.GetSamples())
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "worker %s: step %d: %v", w.cfg.Name, req.GetStep(), err)
	}
	resp := &ringtrainpb.StepResponse{Count: uint32(rows), Fingerprint: r.fingerprint}
	if r.exact {
		return w.exactStep(ctx, r, req, x, labels, resp, start)
	}
	r.net.ZeroGrad()
	var dlogits []float32
	if rows > 0 {
		rng := rand.New(rand.NewPCG(req.GetDropoutSeed(), req.GetStep()))
		logits := r.net.Forward(x, rows, true, rng)
		dlogits = r.dlogits[:rows*r.classes()]
		scale := 1 / float32(req.GetGlobalBatch())
		loss, correct, err := nn.SoftmaxCrossEntropy(dlogits, logits, labels, r.classes(), scale)
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "worker %s: step %d: %v", w.cfg.Name, req.GetStep(), err)
		}
		resp.LossSum, resp.Correct = loss, uint32(correct)
	}

	computeEnd, times, err := w.backwardAndReduce(ctx, r, req.GetStep(), dlogits)
	if err != nil {
		w.logger.Warn("step abandoned", "step", req.GetStep(), "generation", req.GetGeneration(), "err", err)
		return nil, ringStatus(w.cfg.Name, req.GetStep(), err)
	}
	compute := computeEnd.Sub(start)
	w.times.add(compute, times.total, times.overlap)
	resp.ComputeSeconds = compute.Seconds()
	resp.AllreduceSeconds, resp.OverlapSeconds = times.total.Seconds(), times.overlap.Seconds()
	r.pending = req.GetStep()
	return resp, nil
}

// ringStatus maps an all-reduce failure to a status code. Aborted informs the
// coordinator that this worker is alive and the failure lies elsewhere.
func ringStatus(name string, step uint64, err error) error {
	code := codes.Aborted
	switch {
	case errors.Is(err, allreduce.ErrStaleGeneration):
		code = codes.FailedPrecondition
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	}
	return status.Errorf(code, "worker %s: step %d: %v", name, step, err)
}

// Evaluate returns the loss and accuracy of the committed parameters.
func (w *Worker) Evaluate(ctx context.Context, req *ringtrainpb.EvaluateRequest) (*ringtrainpb.EvaluateResponse, error) {
	w.stateMu.Lock()
	defer w.stateMu.Unlock()
	r, err := w.replicaAt(req.GetGeneration(), req.GetCommittedStep())
	if err != nil {
		return nil, err
	}
	samples := req.GetSamples()
	resp := &ringtrainpb.EvaluateResponse{Fingerprint: r.fingerprint}
	total := int(samples.GetCount())
	if len(samples.GetPixels()) != total*r.dim || len(samples.GetLabels()) != total {
		return nil, status.Errorf(codes.InvalidArgument, "worker %s: evaluate: got %d pixel bytes and %d labels for %d samples of %d", w.cfg.Name, len(samples.GetPixels()), len(samples.GetLabels()), total, r.dim)
	}
	// The rows go through the step's input buffer maxBatch at a time, so an
	// evaluation holds no decoded copy of its whole request. nn's Loss adds
	// up chunks of maxBatch rows too, so the sum is the same.
	pixels, labels := samples.GetPixels(), samples.GetLabels()
	var loss float64
	var correct int
	for from := 0; from < total; from += r.maxBatch {
		to := min(from+r.maxBatch, total)
		x := r.x[:(to-from)*r.dim]
		r.norm.Decode(x, pixels[from*r.dim:to*r.dim], r.dim, r.channels)
		chunkLoss, chunkCorrect, err := r.net.Loss(x, labels[from:to])
		if err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "worker %s: evaluate: %v", w.cfg.Name, err)
		}
		loss += chunkLoss
		correct += chunkCorrect
	}
	resp.LossSum, resp.Correct, resp.Count = loss, uint32(correct), uint32(total)
	return resp, nil
}

// FetchState streams the committed parameters and optimizer state.
func (w *Worker) FetchState(req *ringtrainpb.FetchStateRequest, stream ringtrainpb.Worker_FetchStateServer) error {
	w.stateMu.Lock()
	defer w.stateMu.Unlock()
	r, err := w.replicaAt(req.GetGeneration(), req.GetCommittedStep())
	if err != nil {
		return err
	}
	vectors := r.opt.vectors()
	header := &ringtrainpb.StateHeader{
		Generation:     req.GetGeneration(),
		Step:           r.step,
		ParamCount:     uint64(len(r.net.Params())),
		Optimizer:      r.job.GetOptimizer(),
		OptimizerSteps: r.opt.steps(),
		StateVectors:   uint32(len(vectors)),
		Fingerprint:    r.fingerprint,
	}
	if err := stream.Send(&ringtrainpb.StateChunk{Header: header}); err != nil {
		return err
	}
	buf := make([]byte, 0, stateChunkBytes)
	for _, v := range append([][]float32{r.net.Params()}, vectors...) {
		for from := 0; from < len(v); from += stateChunkBytes / 4 {
			to := min(from+stateChunkBytes/4, len(v))
			buf = tensor.AppendFloat32s(buf[:0], v[from:to])
			if err := stream.Send(&ringtrainpb.StateChunk{Data: buf}); err != nil {
				return err
			}
		}
	}
	return nil
}

// LoadState replaces the replica's parameters and optimizer state.
func (w *Worker) LoadState(stream ringtrainpb.Worker_LoadStateServer) error {
	w.stateMu.Lock()
	defer w.stateMu.Unlock()
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	header := first.GetHeader()
	if header == nil {
		return status.Errorf(codes.InvalidArgument, "worker %s: load state: first chunk has no header", w.cfg.Name)
	}
	if err := w.checkGeneration(header.GetGeneration()); err != nil {
		return err
	}
	r := w.replica
	if r == nil {
		return status.Errorf(codes.FailedPrecondition, "worker %s: load state before any job was configured", w.cfg.Name)
	}
	vectors := r.opt.vectors()
	n := len(r.net.Params())
	if header.GetParamCount() != uint64(n) || int(header.GetStateVectors()) != len(vectors) {
		return status.Errorf(codes.InvalidArgument, "worker %s: load state: header has %d parameters and %d optimizer vectors, this job has %d and %d",
			w.cfg.Name, header.GetParamCount(), header.GetStateVectors(), n, len(vectors))
	}

	// Assemble into a fresh buffer so a broken transfer leaves the replica
	// as it was.
	want := 4 * n * (1 + len(vectors))
	data := make([]byte, 0, want)
	for {
		chunk, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if len(data)+len(chunk.GetData()) > want {
			return status.Errorf(codes.InvalidArgument, "worker %s: load state: more than the %d bytes the header announces", w.cfg.Name, want)
		}
		data = append(data, chunk.GetData()...)
	}
	if len(data) != want {
		return status.Errorf(codes.InvalidArgument, "worker %s: load state: got %d bytes, header announces %d", w.cfg.Name, len(data), want)
	}
	params := make([]float32, n)
	if err := tensor.DecodeFloat32s(params, data[:4*n]); err != nil {
		return status.Errorf(codes.InvalidArgument, "worker %s: load state: %v", w.cfg.Name, err)
	}
	if got := tensor.Fingerprint(params); got != header.GetFingerprint() {
		return status.Errorf(codes.DataLoss, "worker %s: load state: parameters have fingerprint %s, header announces %s",
			w.cfg.Name, tensor.FormatFingerprint(got), tensor.FormatFingerprint(header.GetFingerprint()))
	}
	copy(r.net.Params(), params)
	for i, v := range vectors {
		from := 4 * n * (1 + i)
		if err := tensor.DecodeFloat32s(v, data[from:from+4*n]); err != nil {
			return status.Errorf(codes.InvalidArgument, "worker %s: load state: %v", w.cfg.Name, err)
		}
	}
	r.opt.setSteps(header.GetOptimizerSteps())
	r.step = header.GetStep()
	r.pending = 0
	r.hasState = true
	r.fingerprint = header.GetFingerprint()
	w.logger.Info("state loaded", "step", r.step, "fingerprint", tensor.FormatFingerprint(r.fingerprint))
	return stream.SendAndClose(&ringtrainpb.LoadStateResponse{Fingerprint: r.fingerprint})
}

func (w *Worker) checkGeneration(generation uint64) error {
	w.viewMu.Lock()
	defer w.viewMu.Unlock()
	if generation != w.generation {
		return status.Errorf(codes.FailedPrecondition, "worker %s: request of generation %d, current generation is %d", w.cfg.Name, generation, w.generation)
	}
	return nil
}

// replicaAt returns the replica after committing through step, checking
// that the request belongs to the current view and that the replica then
// holds exactly that step. The caller holds stateMu.
func (w *Worker) replicaAt(generation, step uint64) (*replica, error) {
	if err := w.checkGeneration(generation); err != nil {
		return nil, err
	}
	r := w.replica
	if r == nil || !r.hasState {
		return nil, status.Errorf(codes.FailedPrecondition, "worker %s: no model state yet: configure and load state first", w.cfg.Name)
	}
	r.commitThrough(step)
	if r.step != step {
		return nil, status.Error(codes.FailedPrecondition, fmt.Sprintf("worker %s: replica is at step %d, request expects step %d", w.cfg.Name, r.step, step))
	}
	return r, nil
}

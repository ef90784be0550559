package coordinator

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/ringtrain/ringtrain/internal/checkpoint"
	"github.com/ringtrain/ringtrain/internal/tensor"
	ringtrainpb "github.com/ringtrain/ringtrain/proto/ringtrain/v1"
)

// stateChunkBytes is the payload of one state message, well under gRPC's
// 4 MiB default limit.
const stateChunkBytes = 1 << 20

// savedProgress is the part of a checkpoint that only the coordinator reads: the
// finished epochs and the sums of the epoch in progress.
type savedProgress struct {
	History     []EpochStats `json:"history"`
	LossSum     float64      `json:"loss_sum"`
	Correct     int          `json:"correct"`
	LossSamples int          `json:"loss_samples"`
	Seconds     float64      `json:"seconds"`
	Failures    int          `json:"failures"`
}

// progress returns the finished epochs and the sums of the epoch in
// progress, for a checkpoint.
func (c *Coordinator) progress() savedProgress {
	return savedProgress{
		History: c.status.snapshot().History,
		LossSum: c.pos.lossSum, Correct: c.pos.correct, LossSamples: c.pos.lossSamples,
		Seconds: c.pos.seconds, Failures: c.pos.failures,
	}
}

// decodeProgress decodes the progress of a checkpoint. An empty one decodes
// to the zero value. History entries written before EpochStats.TrainSamples
// existed lack it, and get their Samples, which is what their train figures
// were reported as covering.
func decodeProgress(data []byte) (savedProgress, error) {
	var p savedProgress
	if len(data) == 0 {
		return p, nil
	}
	if err := json.Unmarshal(data, &p); err != nil {
		return p, err
	}
	var present struct {
		History []struct {
			TrainSamples *int `json:"train_samples"`
		} `json:"history"`
	}
	if err := json.Unmarshal(data, &present); err != nil {
		return p, err
	}
	for i, e := range present.History {
		if e.TrainSamples == nil {
			p.History[i].TrainSamples = p.History[i].Samples
		}
	}
	return p, nil
}

// state is a replica's committed state as a worker streams it.
type state struct {
	header *ringtrainpb.StateHeader
	params []float32
	slots  [][]float32
}

func (c *Coordinator) checkpointJob() checkpoint.Job {
	return checkpoint.Job{
		Model:           c.job.GetModel(),
		Dataset:         c.job.GetDataset(),
		NormMean:        c.job.GetNormMean(),
		NormStd:         c.job.GetNormStd(),
		Optimizer:       c.job.GetOptimizer(),
		BatchSize:       int(c.job.GetBatchSize()),
		Seed:            c.job.GetSeed(),
		TrainSamples:    c.data.Train.N,
		Hyperparameters: c.hyperparameters(),
		Mode:            c.job.GetMode(),
		MicroBatch:      int(c.job.GetMicroBatch()),
	}
}

// hyperparameters returns the settings of the job's optimizer, leaving
// those of the other optimizer at 0 so that changing them does not stop a
// resume.
func (c *Coordinator) hyperparameters() *checkpoint.Hyperparameters {
	h := &checkpoint.Hyperparameters{LearningRate: c.job.GetLearningRate()}
	if c.job.GetOptimizer() == "sgd" {
		h.Momentum = c.job.GetMomentum()
	} else {
		h.Beta1, h.Beta2, h.Epsilon = c.job.GetBeta1(), c.job.GetBeta2(), c.job.GetEpsilon()
	}
	return h
}

// restore resumes the job from the newest valid checkpoint, when there is
// one. It runs before the gRPC server starts, so workers register with the
// job's own identifier.
func (c *Coordinator) restore() error {
	if c.cfg.CheckpointDir == "" {
		return nil
	}
	ck, err := checkpoint.Latest(c.cfg.CheckpointDir, c.checkpointJob(), c.logger)
	if err != nil {
		return fmt.Errorf("coordinator: %w", err)
	}
	if ck == nil {
		c.logger.Info("no checkpoint found, starting the job from the beginning", "checkpoint_dir", c.cfg.CheckpointDir)
		return nil
	}
	c.jobID = ck.Header.JobID
	c.job.JobId = c.jobID
	c.nextGen = max(c.nextGen, ck.Header.Generation)
	if err := c.resumeFrom(ck); err != nil {
		return err
	}
	c.status.update(func(s *Status) { s.JobID = c.jobID })
	c.logger.Info("resuming from checkpoint", "step", ck.Header.Step, "epoch", ck.Header.Epoch+1,
		"generation", ck.Header.Generation, "job", c.jobID)
	c.status.event("resumed from checkpoint at step %d", ck.Header.Step)
	return nil
}

// resumeFrom sets the job's position, history and sums to those of ck and
// keeps ck as the source of the replicas' state.
func (c *Coordinator) resumeFrom(ck *checkpoint.Checkpoint) error {
	p, err := decodeProgress(ck.Header.Progress)
	if err != nil {
		return fmt.Errorf("coordinator: checkpoint of step %d: decode progress: %w", ck.Header.Step, err)
	}
	h := ck.Header
	c.pos = position{
		epoch: h.Epoch, offset: h.Offset, step: h.Step,
		fingerprint: h.Fingerprint, fingerprintStep: h.Step, verified: true,
		lossSum: p.LossSum, correct: p.Correct, lossSamples: p.LossSamples,
		seconds: p.Seconds, failures: p.Failures,
	}
	c.restored = ck
	history := p.History
	if history == nil {
		history = []EpochStats{}
	}
	c.status.update(func(s *Status) {
		s.History = history
		s.Step = h.Step
		s.Epoch = h.Epoch + 1
		s.EpochSamples = h.Offset
		s.Fingerprint = tensor.FormatFingerprint(h.Fingerprint)
	})
	return nil
}

// adoptWorkerState moves the job forward to the newest committed step that
// registered workers of this job hold and agree on, when that is later than
// the coordinator's own record, as after a coordinator restart.
func (c *Coordinator) adoptWorkerState(candidates []*worker) {
	reported := c.registry.reportedStates()
	var bestStep, bestFP uint64
	agree := true
	for _, w := range candidates {
		r := reported[w.name]
		if r.jobID != c.jobID || !r.hasState || r.step <= c.pos.step {
			continue
		}
		switch {
		case r.step > bestStep:
			bestStep, bestFP, agree = r.step, r.fingerprint, true
		case r.step == bestStep && r.fingerprint != bestFP:
			agree = false
		}
	}
	if bestStep == 0 {
		return
	}
	if !agree {
		c.logger.Warn("workers differ at the same step, resuming from the checkpoint instead", "step", bestStep)
		return
	}

	// Every step but an epoch's last takes a full batch, so the step count
	// fixes the position in the epoch orders.
	n, batch := c.data.Train.N, c.cfg.BatchSize
	perEpoch := uint64((n + batch - 1) / batch)
	epoch, offset := int(bestStep/perEpoch), int(bestStep%perEpoch)*batch
	history := len(c.status.snapshot().History)
	if offset == 0 && epoch > history {
		// The epoch's last step committed but its evaluation did not.
		epoch, offset = epoch-1, n
	}
	if epoch != c.pos.epoch {
		c.pos = position{}
	}
	c.pos.epoch, c.pos.offset, c.pos.step = epoch, offset, bestStep
	c.pos.setFingerprint(bestStep, bestFP)
	c.restored = nil
	c.status.update(func(s *Status) {
		s.Step, s.Epoch, s.EpochSamples = bestStep, epoch+1, offset
		s.Fingerprint = tensor.FormatFingerprint(bestFP)
	})
	c.logger.Info("resuming from the workers' state", "step", bestStep, "epoch", epoch+1, "offset", offset)
	c.status.event("resumed from the workers' state at step %d", bestStep)
	if missing := offset - c.pos.lossSamples; missing > 0 {
		// The loss and correct predictions of the steps after the newest
		// checkpoint were summed by the coordinator that stopped.
		c.logger.Warn("the epoch's train loss and accuracy will leave out samples trained before the restart",
			"epoch", epoch+1, "missing_samples", missing, "step", bestStep)
		c.status.event("epoch %d: train loss and accuracy leave out %d samples trained before the restart",
			epoch+1, missing)
	}
}

// maybeCheckpoint writes a checkpoint every CheckpointEvery steps and when
// force is set. A failed write is logged and training goes on. After an
// epoch's last step it waits for the checkpoint that follows the epoch's
// evaluation, so that step is not written twice.
func (c *Coordinator) maybeCheckpoint(ctx context.Context, force bool) {
	if c.cfg.CheckpointDir == "" || c.view == nil {
		return
	}
	if !force && (c.pos.step == 0 || c.pos.step%uint64(c.cfg.CheckpointEvery) != 0 || c.pos.offset >= c.data.Train.N) {
		return
	}
	if err := c.writeCheckpoint(ctx); err != nil {
		c.logger.Warn("checkpoint failed", "step", c.pos.step, "err", err)
		c.status.event("checkpoint at step %d failed: %v", c.pos.step, err)
	}
}

func (c *Coordinator) writeCheckpoint(ctx context.Context) error {
	source := c.view.members[0]
	st, err := c.fetchState(ctx, source)
	if err != nil {
		c.registry.markFailed(source, time.Now())
		c.view = nil
		return fmt.Errorf("fetch state from %s: %w", source.name, err)
	}
	progressJSON, err := json.Marshal(c.progress())
	if err != nil {
		return err
	}
	ck := &checkpoint.Checkpoint{
		Header: checkpoint.Header{
			JobID:          c.jobID,
			Job:            c.checkpointJob(),
			Step:           c.pos.step,
			Generation:     c.view.generation,
			Epoch:          c.pos.epoch,
			Offset:         c.pos.offset,
			Progress:       progressJSON,
			Optimizer:      st.header.GetOptimizer(),
			OptimizerSteps: st.header.GetOptimizerSteps(),
			Fingerprint:    st.header.GetFingerprint(),
		},
		Params: st.params,
		State:  st.slots,
	}
	path, err := checkpoint.Write(c.cfg.CheckpointDir, ck, c.cfg.CheckpointKeep)
	if err != nil {
		return err
	}
	c.restored = nil
	now := time.Now().UTC()
	c.metrics.SetCheckpointTime(now)
	c.status.update(func(s *Status) { s.LastCheckpoint = &CheckpointInfo{Path: path, Step: c.pos.step, Time: now} })
	c.logger.Info("checkpoint written", "path", path, "step", c.pos.step)
	return nil
}

// fetchState reads the committed state of w: parameters and optimizer
// vectors.
func (c *Coordinator) fetchState(ctx context.Context, w *worker) (*state, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RPCTimeout)
	defer cancel()
	stream, err := w.client.FetchState(ctx, &ringtrainpb.FetchStateRequest{Generation: c.view.generation, CommittedStep: c.pos.step})
	if err != nil {
		return nil, err
	}
	first, err := stream.Recv()
	if err != nil {
		return nil, err
	}
	h := first.GetHeader()
	if h == nil {
		return nil, fmt.Errorf("first state message has no header")
	}
	n, k := int(h.GetParamCount()), int(h.GetStateVectors())
	if n != int(c.job.GetParamCount()) {
		return nil, fmt.Errorf("worker sent %d parameters, the job has %d", n, c.job.GetParamCount())
	}
	data := make([]byte, 0, 4*n*(1+k))
	for {
		chunk, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		data = append(data, chunk.GetData()...)
	}
	if len(data) != 4*n*(1+k) {
		return nil, fmt.Errorf("state stream carried %d bytes, header announces %d", len(data), 4*n*(1+k))
	}
	st := &state{header: h, params: make([]float32, n)}
	tensor.DecodeFloat32s(st.params, data[:4*n])
	for i := range k {
		v := make([]float32, n)
		tensor.DecodeFloat32s(v, data[4*n*(1+i):4*n*(2+i)])
		st.slots = append(st.slots, v)
	}
	fp := tensor.Fingerprint(st.params)
	if known, ok := c.pos.knownFingerprint(); ok && fp != known {
		return nil, fmt.Errorf("fetched parameters have fingerprint %s, want %s", tensor.FormatFingerprint(fp), tensor.FormatFingerprint(known))
	}
	c.pos.setFingerprint(c.pos.step, fp)
	return st, nil
}

// loadCheckpoint streams the state of ck into w.
func (c *Coordinator) loadCheckpoint(ctx context.Context, generation uint64, w *worker, ck *checkpoint.Checkpoint) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RPCTimeout)
	defer cancel()
	stream, err := w.client.LoadState(ctx)
	if err != nil {
		return err
	}
	header := &ringtrainpb.StateHeader{
		Generation:     generation,
		Step:           ck.Header.Step,
		ParamCount:     uint64(len(ck.Params)),
		Optimizer:      ck.Header.Optimizer,
		OptimizerSteps: ck.Header.OptimizerSteps,
		StateVectors:   uint32(len(ck.State)),
		Fingerprint:    ck.Header.Fingerprint,
	}
	if err := stream.Send(&ringtrainpb.StateChunk{Header: header}); err != nil {
		_, err = stream.CloseAndRecv()
		return err
	}
	buf := make([]byte, 0, stateChunkBytes)
	for _, v := range append([][]float32{ck.Params}, ck.State...) {
		for from := 0; from < len(v); from += stateChunkBytes / 4 {
			buf = tensor.AppendFloat32s(buf[:0], v[from:min(from+stateChunkBytes/4, len(v))])
			if err := stream.Send(&ringtrainpb.StateChunk{Data: buf}); err != nil {
				_, err = stream.CloseAndRecv()
				return err
			}
		}
	}
	_, err = stream.CloseAndRecv()
	return err
}

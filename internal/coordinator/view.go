package coordinator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ringtrain/ringtrain/internal/checkpoint"
	"github.com/ringtrain/ringtrain/internal/tensor"
	ringtrainpb "github.com/ringtrain/ringtrain/proto/ringtrain/v1"
)

// errRetry marks a failure the job survives: a worker failed or became
// unreachable, and the training loop forms a new view and goes on from the
// last committed step.
var errRetry = errors.New("retry with a new view")

// FingerprintError reports workers whose parameters differ after the same
// committed step. Replicas must be identical bit for bit, so the job stops.
type FingerprintError struct {
	Step uint64
	// Fingerprints maps each worker to the fingerprint it reported.
	Fingerprints map[string]uint64
}

func (e *FingerprintError) Error() string {
	groups := make(map[uint64][]string)
	for name, fp := range e.Fingerprints {
		groups[fp] = append(groups[fp], name)
	}
	var parts []string
	for _, fp := range slices.Sorted(maps.Keys(groups)) {
		names := groups[fp]
		slices.Sort(names)
		parts = append(parts, fmt.Sprintf("%s on %s", tensor.FormatFingerprint(fp), strings.Join(names, ", ")))
	}
	return fmt.Sprintf("coordinator: replicas differ after step %d: %s", e.Step, strings.Join(parts, "; "))
}

// view is one membership view: the workers of the ring in rank order, under
// one generation.
type view struct {
	generation uint64
	members    []*worker
}

func (v *view) names() []string {
	names := make([]string, len(v.members))
	for i, w := range v.members {
		names[i] = w.name
	}
	return names
}

func sameMembers(v *view, candidates []*worker) bool {
	return v != nil && slices.Equal(v.members, candidates)
}

// checkFingerprints returns a [FingerprintError] unless every worker
// reported the same fingerprint.
func checkFingerprints(step uint64, members []*worker, fps []uint64) error {
	for _, fp := range fps[1:] {
		if fp != fps[0] {
			byName := make(map[string]uint64, len(members))
			for i, w := range members {
				byName[w.name] = fps[i]
			}
			return &FingerprintError{Step: step, Fingerprints: byName}
		}
	}
	return nil
}

// waitLogInterval is the time between log lines while the job waits for
// workers, so a job stuck below the minimum keeps saying why.
const waitLogInterval = 30 * time.Second

// ensureView returns once a view of the live workers is installed: at once
// when the current view still matches them, else after forming a new one,
// waiting while fewer than the minimum number of workers are available.
func (c *Coordinator) ensureView(ctx context.Context) error {
	var waitLogged time.Time
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		candidates := c.registry.candidates(c.node.Members(), time.Now())
		if sameMembers(c.view, candidates) {
			return nil
		}
		if len(candidates) < c.cfg.MinWorkers {
			if waitLogged.IsZero() {
				c.status.setState(StateWaiting)
			}
			if time.Since(waitLogged) >= waitLogInterval {
				c.logger.Info("waiting for workers", "available", len(candidates), "min_workers", c.cfg.MinWorkers,
					"join", c.node.GossipAddr())
				waitLogged = time.Now()
			}
			c.view = nil
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-c.registry.changed:
			case <-c.node.Changed():
			case <-time.After(500 * time.Millisecond):
			}
			continue
		}
		waitLogged = time.Time{}
		if !c.adopted {
			c.adoptWorkerState(candidates)
			c.adopted = true
		}
		err := c.formView(ctx, candidates)
		if err == nil {
			return nil
		}
		if !errors.Is(err, errRetry) {
			return err
		}
		c.logger.Warn("forming view failed, retrying", "err", err)
	}
}

// formView installs a new generation on the candidates. Each receives the
// ring and the committed step, and those that do not hold that step receive
// the parameters and optimizer state from one that does.
func (c *Coordinator) formView(ctx context.Context, candidates []*worker) error {
	previous := c.lastMembers
	c.view = nil
	// Workers may have installed newer generations of this job than the
	// coordinator recorded, before it restarted.
	for _, r := range c.registry.reportedStates() {
		if r.jobID == c.jobID {
			c.nextGen = max(c.nextGen, r.generation)
		}
	}
	c.nextGen++
	generation := c.nextGen
	c.status.setState(StateForming)

	ring := make([]*ringtrainpb.Peer, len(candidates))
	for i, w := range candidates {
		ring[i] = &ringtrainpb.Peer{Name: w.name, GrpcAddress: w.addr}
	}
	responses := make([]*ringtrainpb.ConfigureResponse, len(candidates))
	errs := c.forEach(candidates, func(i int, w *worker) error {
		ctx, cancel := context.WithTimeout(ctx, c.cfg.RPCTimeout)
		defer cancel()
		resp, err := w.client.Configure(ctx, &ringtrainpb.ConfigureRequest{
			Generation:    generation,
			Rank:          uint32(i),
			Ring:          ring,
			Job:           c.job,
			CommittedStep: c.pos.step,
			Initialize:    c.pos.step == 0,
		})
		responses[i] = resp
		return err
	})
	if err := c.dropFailed(ctx, candidates, errs, "configure"); err != nil {
		return err
	}

	// Workers holding the committed step must agree with each other and with
	// the last fingerprint this coordinator verified.
	var sources []int
	var fps []uint64
	for i, resp := range responses {
		if resp.GetHasState() && resp.GetStep() == c.pos.step {
			sources = append(sources, i)
			fps = append(fps, resp.GetFingerprint())
		}
	}
	sources, fps = c.dropOtherHistories(candidates, previous, sources, fps)
	if len(sources) == 0 {
		return c.formFromCheckpoint(ctx, generation, candidates, previous)
	}
	sourceWorkers := make([]*worker, len(sources))
	for i, s := range sources {
		sourceWorkers[i] = candidates[s]
	}
	if err := checkFingerprints(c.pos.step, sourceWorkers, fps); err != nil {
		return err
	}
	if known, ok := c.pos.knownFingerprint(); ok && fps[0] != known {
		return &FingerprintError{Step: c.pos.step, Fingerprints: map[string]uint64{
			"coordinator's record": known, sourceWorkers[0].name: fps[0]}}
	}
	c.pos.setFingerprint(c.pos.step, fps[0])

	source := candidates[sources[0]]
	for i, w := range candidates {
		if slices.Contains(sources, i) {
			continue
		}
		if err := c.transferState(ctx, generation, source, w); err != nil {
			c.registry.markFailed(w, time.Now())
			return fmt.Errorf("coordinator: send state from %s to %s: %w: %w", source.name, w.name, err, errRetry)
		}
		c.logger.Info("state sent to worker", "peer", w.name, "from", source.name, "step", c.pos.step)
	}

	c.installView(generation, candidates, previous)
	c.metrics.SetWorkers(c.registry.countByState())
	return nil
}

// dropOtherHistories removes from sources the workers that hold the
// committed step under a fingerprint other than that of the previous view's
// members. Such a worker computed a step of the same number in another
// history. This happens when a coordinator is killed after a step's commit
// reached only some workers: its successor resumes one step earlier and
// computes that step again with other workers, which sum the gradient in
// another order. These workers receive the state like any other. A
// mismatch among members of the previous view is left for
// checkFingerprints to report.
func (c *Coordinator) dropOtherHistories(candidates []*worker, previous []string, sources []int, fps []uint64) ([]int, []uint64) {
	want, found := uint64(0), false
	for j, i := range sources {
		if slices.Contains(previous, candidates[i].name) {
			want, found = fps[j], true
			break
		}
	}
	if !found {
		return sources, fps
	}
	var keptSources []int
	var keptFPs []uint64
	for j, i := range sources {
		if fps[j] != want && !slices.Contains(previous, candidates[i].name) {
			c.logger.Warn("replacing the state of a worker whose committed step comes from another history",
				"peer", candidates[i].name, "step", c.pos.step,
				"fingerprint", tensor.FormatFingerprint(fps[j]), "want", tensor.FormatFingerprint(want))
			c.status.event("worker %s has step %d from another history, so its state is replaced", candidates[i].name, c.pos.step)
			continue
		}
		keptSources = append(keptSources, i)
		keptFPs = append(keptFPs, fps[j])
	}
	return keptSources, keptFPs
}

// installView makes the configured candidates the current view and records
// the change.
func (c *Coordinator) installView(generation uint64, members []*worker, previous []string) {
	c.view = &view{generation: generation, members: members}
	c.lastMembers = c.view.names()
	c.metrics.SetGeneration(generation)
	c.registry.setView(members, c.pos.step)
	reason := describeChange(previous, c.lastMembers, c.viewReason)
	c.viewReason = ""
	now := time.Now().UTC()
	c.status.update(func(s *Status) {
		s.Generation = generation
		s.Fingerprint = tensor.FormatFingerprint(c.pos.fingerprint)
		s.Generations = append(s.Generations, GenerationChange{
			Generation: generation, Time: now, Step: c.pos.step, Workers: c.lastMembers, Reason: reason,
		})
	})
	c.status.event("generation %d: ring of %d workers (%s) at step %d: %s", generation, len(members), strings.Join(c.lastMembers, ", "), c.pos.step, reason)
	c.logger.Info("ring formed", "generation", generation, "workers", c.lastMembers, "step", c.pos.step, "reason", reason)
}

// describeChange lists the workers that joined and left between two views,
// after the reason the old view ended, if any.
func describeChange(before, after []string, reason string) string {
	var parts []string
	if reason != "" {
		parts = append(parts, reason)
	}
	var joined, left []string
	for _, name := range after {
		if !slices.Contains(before, name) {
			joined = append(joined, name)
		}
	}
	for _, name := range before {
		if !slices.Contains(after, name) {
			left = append(left, name)
		}
	}
	if len(joined) > 0 {
		parts = append(parts, "joined: "+strings.Join(joined, ", "))
	}
	if len(left) > 0 {
		parts = append(parts, "left: "+strings.Join(left, ", "))
	}
	if len(parts) == 0 {
		return "same workers"
	}
	return strings.Join(parts, "; ")
}

// formFromCheckpoint installs a view when no live worker holds the
// committed step: the state comes from the checkpoint the job resumed
// from, or else from the newest one on disk, and the job goes back to its
// position. Steps after that checkpoint are computed again.
func (c *Coordinator) formFromCheckpoint(ctx context.Context, generation uint64, candidates []*worker, previous []string) error {
	ck := c.restored
	if ck == nil || ck.Header.Step != c.pos.step {
		if c.cfg.CheckpointDir == "" {
			return fmt.Errorf("coordinator: no live worker holds committed step %d and there is no --checkpoint-dir, so the job cannot continue", c.pos.step)
		}
		latest, err := checkpoint.Latest(c.cfg.CheckpointDir, c.checkpointJob(), c.logger)
		if err != nil {
			return fmt.Errorf("coordinator: %w", err)
		}
		if latest == nil {
			return fmt.Errorf("coordinator: no live worker holds committed step %d and %s has no checkpoint, so the job cannot continue", c.pos.step, c.cfg.CheckpointDir)
		}
		c.logger.Warn("no live worker holds the committed step, going back to the newest checkpoint",
			"committed_step", c.pos.step, "checkpoint_step", latest.Header.Step)
		c.status.event("all workers lost step %d; going back to checkpoint of step %d", c.pos.step, latest.Header.Step)
		if err := c.resumeFrom(latest); err != nil {
			return err
		}
		ck = latest
	}
	errs := c.forEach(candidates, func(i int, w *worker) error {
		return c.loadCheckpoint(ctx, generation, w, ck)
	})
	if err := c.dropFailed(ctx, candidates, errs, "load checkpoint"); err != nil {
		return err
	}
	c.logger.Info("state loaded from checkpoint", "step", ck.Header.Step, "workers", len(candidates))
	c.installView(generation, candidates, previous)
	return nil
}

// dropFailed marks the workers whose call failed and returns an error that
// wraps errRetry when there were any.
func (c *Coordinator) dropFailed(ctx context.Context, members []*worker, errs []error, call string) error {
	var failed []string
	for i, err := range errs {
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.logger.Warn("worker call failed", "call", call, "peer", members[i].name, "err", err)
		c.registry.markFailed(members[i], time.Now())
		c.status.event("worker %s failed during %s: %v", members[i].name, call, err)
		failed = append(failed, members[i].name)
	}
	if len(failed) > 0 {
		return fmt.Errorf("coordinator: %s failed on %s: %w", call, strings.Join(failed, ", "), errRetry)
	}
	return nil
}

// transferState streams the committed state of src into dst.
func (c *Coordinator) transferState(ctx context.Context, generation uint64, src, dst *worker) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.RPCTimeout)
	defer cancel()
	in, err := src.client.FetchState(ctx, &ringtrainpb.FetchStateRequest{Generation: generation, CommittedStep: c.pos.step})
	if err != nil {
		return err
	}
	out, err := dst.client.LoadState(ctx)
	if err != nil {
		return err
	}
	for {
		chunk, err := in.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("fetch: %w", err)
		}
		if err := out.Send(chunk); err != nil {
			_, err = out.CloseAndRecv()
			return fmt.Errorf("load: %w", err)
		}
	}
	resp, err := out.CloseAndRecv()
	if err != nil {
		return fmt.Errorf("load: %w", err)
	}
	if resp.GetFingerprint() != c.pos.fingerprint {
		return fmt.Errorf("loaded fingerprint %s, want %s", tensor.FormatFingerprint(resp.GetFingerprint()), tensor.FormatFingerprint(c.pos.fingerprint))
	}
	return nil
}

// forEach calls f for every member concurrently and returns the errors in
// member order.
func (c *Coordinator) forEach(members []*worker, f func(i int, w *worker) error) []error {
	errs := make([]error, len(members))
	var wg sync.WaitGroup
	for i, w := range members {
		wg.Go(func() { errs[i] = f(i, w) })
	}
	wg.Wait()
	return errs
}

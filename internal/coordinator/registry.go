package coordinator

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/ringtrain/ringtrain/internal/membership"
	ringtrainpb "github.com/ringtrain/ringtrain/proto/ringtrain/v1"
)

// Worker states as /status reports them.
const (
	WorkerJoining  = "joining"
	WorkerTraining = "training"
	WorkerSuspect  = "suspect"
	WorkerFailed   = "failed"
	WorkerLeft     = "left"
	// WorkerIdle marks the workers that trained until the job ended.
	WorkerIdle = "idle"
)

// worker is a registered worker and the connection to it.
type worker struct {
	name        string
	addr        string
	incarnation uint64
	conn        *grpc.ClientConn
	client      ringtrainpb.WorkerClient
	// reported is the worker's state as its Register request described it.
	reported reportedState

	// Guarded by registry.mu.
	state string
	step  uint64
	// retryAt is when a worker that failed may be tried again.
	retryAt  time.Time
	failures int
	// Moving averages of the worker's step times, and its throughput.
	computeSeconds, allReduceSeconds, overlapSeconds, samplesPerSecond float64
}

// reportedState is a worker's state as it registered: the job it held
// state of, the latest generation it installed, and its committed step.
type reportedState struct {
	jobID       string
	generation  uint64
	hasState    bool
	step        uint64
	fingerprint uint64
}

// timingWeight is the weight of the newest step in the moving averages.
const timingWeight = 0.1

// registry holds the workers that registered. Its methods are safe for
// concurrent use: the gRPC handler adds workers while the training loop
// reads them.
type registry struct {
	changed chan struct{}

	// mu guards workers, the mutable fields of each worker, and waiting.
	mu      sync.Mutex
	workers map[string]*worker
	// waiting maps a worker name to the address whose registration waits
	// for the name to be released.
	waiting map[string]string
}

func newRegistry() *registry {
	return &registry{changed: make(chan struct{}, 1), workers: make(map[string]*worker), waiting: make(map[string]string)}
}

// Register admits a worker that memberlist has found. A worker registering
// again under the same name and address only refreshes its record. A new
// incarnation at the same address replaces the record. A new address
// replaces it only once the old process is dead, as [Coordinator.claimName]
// decides.
func (c *Coordinator) Register(ctx context.Context, req *ringtrainpb.RegisterRequest) (*ringtrainpb.RegisterResponse, error) {
	name, addr := strings.TrimSpace(req.GetName()), strings.TrimSpace(req.GetGrpcAddress())
	if name == "" || addr == "" {
		return nil, status.Errorf(codes.InvalidArgument, "register: name %q and gRPC address %q must both be set", name, addr)
	}
	if v := req.GetProtocolVersion(); v != ringtrainpb.ProtocolVersion {
		c.logger.Warn("worker rejected: other protocol version", "peer", name, "addr", addr,
			"protocol_version", v, "want", ringtrainpb.ProtocolVersion)
		return nil, status.Errorf(codes.FailedPrecondition,
			"register %s: worker speaks protocol version %d, this coordinator %d: run the same ringtrain release on every node",
			name, v, ringtrainpb.ProtocolVersion)
	}
	if err := c.claimName(ctx, name, addr); err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(8<<20)))
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "register %s: invalid gRPC address %q: %v", name, addr, err)
	}
	w := &worker{name: name, addr: addr, incarnation: req.GetIncarnation(), conn: conn,
		client: ringtrainpb.NewWorkerClient(conn), state: WorkerJoining,
		reported: reportedState{
			jobID:       req.GetJobId(),
			generation:  req.GetGeneration(),
			hasState:    req.GetHasState(),
			step:        req.GetStep(),
			fingerprint: req.GetFingerprint(),
		}}
	if previous, replaced := c.registry.add(w); replaced {
		c.logger.Info("worker registered again", "peer", name, "addr", addr, "previous_addr", previous)
	} else {
		c.logger.Info("worker registered", "peer", name, "addr", addr)
	}
	c.status.event("worker %s registered at %s", name, addr)
	return &ringtrainpb.RegisterResponse{JobId: c.jobID}, nil
}

// add records w. It returns the address of the record of the same name it
// refreshed or replaced, and whether there was one.
func (r *registry) add(w *worker) (string, bool) {
	r.mu.Lock()
	delete(r.waiting, w.name)
	old, exists := r.workers[w.name]
	if exists && old.addr == w.addr && old.incarnation == w.incarnation {
		// The same process registered again: keep the connection.
		old.retryAt = time.Time{}
		old.reported = w.reported
		if old.state == WorkerFailed || old.state == WorkerLeft {
			old.state = WorkerJoining
		}
		r.mu.Unlock()
		w.conn.Close()
		r.notify()
		return old.addr, true
	}
	r.workers[w.name] = w
	r.mu.Unlock()
	if !exists {
		r.notify()
		return "", false
	}
	old.conn.Close()
	r.notify()
	return old.addr, true
}

// addrOf returns the address of the record of that name, or "" when there
// is none.
func (r *registry) addrOf(name string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if w, ok := r.workers[name]; ok {
		return w.addr
	}
	return ""
}

// noteWaiting records that the worker name at addr waits for its name and
// reports whether that is new, so the wait is logged once and not on every
// retry.
func (r *registry) noteWaiting(name, addr string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.waiting[name] == addr {
		return false
	}
	r.waiting[name] = addr
	return true
}

func (r *registry) notify() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// candidates returns the workers a new view should hold: registered,
// shown alive or suspect by memberlist, and not waiting out a failure.
// They are sorted by name, so ranks do not depend on arrival order.
func (r *registry) candidates(members []membership.Member, now time.Time) []*worker {
	alive := make(map[string]string)
	suspect := make(map[string]bool)
	for _, m := range members {
		if m.Meta.Role == membership.RoleWorker {
			alive[m.Name] = m.Meta.GRPCAddress
			// NOTE: never true with memberlist v0.7.0, which reports every
			// listed node as alive, so /status shows no suspect workers.
			suspect[m.Name] = m.State == memberlist.StateSuspect
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*worker
	for _, w := range r.workers {
		addr, ok := alive[w.name]
		switch {
		case !ok || addr != w.addr:
			if w.state != WorkerFailed {
				w.state = WorkerLeft
			}
		case now.Before(w.retryAt):
		case !w.readyToReturn():
		default:
			// A suspect worker stays in the ring until memberlist confirms
			// its death, because a busy worker may miss a probe.
			if suspect[w.name] && w.state == WorkerTraining {
				w.state = WorkerSuspect
			} else if !suspect[w.name] && w.state == WorkerSuspect {
				w.state = WorkerTraining
			}
			out = append(out, w)
		}
	}
	slices.SortFunc(out, func(a, b *worker) int { return strings.Compare(a.name, b.name) })
	return out
}

// readyToReturn reports whether a worker that failed or left may enter a
// view again, which needs a ready connection to it. A call to a host that
// is gone waits for gRPC's connect timeout, 20 s, and the whole ring would
// wait with it, so an unready connection only starts a connection attempt
// in the background. The caller holds registry.mu.
func (w *worker) readyToReturn() bool {
	if w.state != WorkerFailed && w.state != WorkerLeft {
		return true
	}
	if w.conn.GetState() == connectivity.Ready {
		return true
	}
	w.conn.Connect()
	return false
}

// markFailed keeps w out of views for a while that grows with each
// consecutive failure, from 1s up to 30s.
func (r *registry) markFailed(w *worker, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	w.failures++
	w.state = WorkerFailed
	w.retryAt = now.Add(min(time.Second<<min(w.failures-1, 5), 30*time.Second))
}

// markIdle sets the workers still training or suspect to idle, once the
// job has ended and no step will reach them.
func (r *registry) markIdle() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, w := range r.workers {
		if w.state == WorkerTraining || w.state == WorkerSuspect {
			w.state = WorkerIdle
		}
	}
}

// setView records which workers hold the current view and their step.
func (r *registry) setView(members []*worker, step uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	in := make(map[*worker]bool, len(members))
	for _, w := range members {
		in[w] = true
		w.state = WorkerTraining
		w.step = step
		w.failures = 0
	}
	for _, w := range r.workers {
		if !in[w] && (w.state == WorkerTraining || w.state == WorkerSuspect) {
			w.state = WorkerJoining
		}
	}
}

// recordStep sets the step of the view's workers and folds their step
// times into the moving averages.
func (r *registry) recordStep(members []*worker, step uint64, responses []*ringtrainpb.StepResponse) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, w := range members {
		w.step = step
		resp := responses[i]
		compute, reduce := resp.GetComputeSeconds(), resp.GetAllreduceSeconds()
		overlap := resp.GetOverlapSeconds()
		rate := 0.0
		if total := compute + reduce - overlap; total > 0 {
			rate = float64(resp.GetCount()) / total
		}
		if w.computeSeconds == 0 && w.allReduceSeconds == 0 {
			w.computeSeconds, w.allReduceSeconds, w.overlapSeconds = compute, reduce, overlap
			w.samplesPerSecond = rate
			continue
		}
		w.computeSeconds += timingWeight * (compute - w.computeSeconds)
		w.allReduceSeconds += timingWeight * (reduce - w.allReduceSeconds)
		w.overlapSeconds += timingWeight * (overlap - w.overlapSeconds)
		w.samplesPerSecond += timingWeight * (rate - w.samplesPerSecond)
	}
}

// snapshot returns the status rows of all workers, sorted by name.
func (r *registry) snapshot() []WorkerStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]WorkerStatus, 0, len(r.workers))
	for _, w := range r.workers {
		out = append(out, WorkerStatus{
			ID: w.name, Address: w.addr, State: w.state, Step: w.step,
			ComputeSeconds: w.computeSeconds, AllReduceSeconds: w.allReduceSeconds, OverlapSeconds: w.overlapSeconds,
			SamplesPerSecond: w.samplesPerSecond,
		})
	}
	slices.SortFunc(out, func(a, b WorkerStatus) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func (r *registry) closeConns() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, w := range r.workers {
		w.conn.Close()
	}
}

// reportedStates returns what each registered worker reported when it
// registered.
func (r *registry) reportedStates() map[string]reportedState {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]reportedState, len(r.workers))
	for name, w := range r.workers {
		out[name] = w.reported
	}
	return out
}

// countByState returns the number of registered workers in each state.
func (r *registry) countByState() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	counts := map[string]int{WorkerJoining: 0, WorkerTraining: 0, WorkerSuspect: 0, WorkerFailed: 0, WorkerLeft: 0}
	for _, w := range r.workers {
		counts[w.state]++
	}
	return counts
}

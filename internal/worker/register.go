package worker

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/hashicorp/memberlist"

	"github.com/ringtrain/ringtrain/internal/membership"
	ringtrainpb "github.com/ringtrain/ringtrain/proto/ringtrain/v1"
)

// registerTimeout bounds one Register call.
const registerTimeout = 5 * time.Second

// registerLoop registers with the coordinator whenever memberlist shows one
// this worker has not registered with yet: the first coordinator, and every
// coordinator that restarts under a new incarnation. Failed attempts back off
// from 250ms up to 5s.
func (w *Worker) registerLoop(ctx context.Context) {
	type target struct {
		addr        string
		incarnation uint64
	}
	var registered target
	backoff := 250 * time.Millisecond
	ticker := time.NewTicker(2 * time.Second)
	defer ticker.Stop()
	for {
		coord, found := w.findCoordinator()
		if found && (target{coord.Meta.GRPCAddress, coord.Meta.Incarnation}) != registered {
			if err := w.register(ctx, coord.Meta.GRPCAddress); err != nil {
				w.logger.Warn("register with coordinator failed, retrying", "coordinator", coord.Meta.GRPCAddress, "retry_in", backoff, "err", err)
				select {
				case <-ctx.Done():
					return
				case <-time.After(backoff):
				}
				backoff = min(2*backoff, 5*time.Second)
				continue
			}
			registered = target{coord.Meta.GRPCAddress, coord.Meta.Incarnation}
			backoff = 250 * time.Millisecond
		}
		if !found && registered != (target{}) {
			w.logger.Info("coordinator gone, waiting for one", "coordinator", registered.addr)
			registered = target{}
		}
		if !found {
			// A restarted coordinator starts a new gossip node with no
			// members, so the worker contacts the join addresses again.
			w.rejoin()
		}
		select {
		case <-ctx.Done():
			return
		case <-w.node.Changed():
		case <-ticker.C:
		}
	}
}

// findCoordinator returns the coordinator memberlist shows, preferring an
// alive one to a suspect one and a newer incarnation to an older one, since
// a crashed coordinator stays suspect for a while after its successor
// starts.
func (w *Worker) findCoordinator() (membership.Member, bool) {
	var best membership.Member
	found := false
	for _, m := range w.node.Members() {
		if m.Meta.Role != membership.RoleCoordinator || m.Meta.GRPCAddress == "" {
			continue
		}
		alive, bestAlive := m.State == memberlist.StateAlive, best.State == memberlist.StateAlive
		if !found || (alive && !bestAlive) || (alive == bestAlive && m.Meta.Incarnation > best.Meta.Incarnation) {
			best, found = m, true
		}
	}
	return best, found
}

func (w *Worker) register(ctx context.Context, addr string) error {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, registerTimeout)
	defer cancel()
	resp, err := ringtrainpb.NewCoordinatorClient(conn).Register(ctx, w.registerRequest())
	if err != nil {
		return err
	}
	w.logger.Info("registered with coordinator", "coordinator", addr, "job", resp.GetJobId())
	return nil
}

// registerRequest describes this worker and the state it holds.
func (w *Worker) registerRequest() *ringtrainpb.RegisterRequest {
	req := &ringtrainpb.RegisterRequest{
		Name:        w.cfg.Name,
		GrpcAddress: w.grpcAddr,
		Incarnation: w.incarnation,
	}
	w.viewMu.Lock()
	req.JobId, req.Generation = w.jobID, w.generation
	w.viewMu.Unlock()

	// A step in flight holds stateMu until it ends, within its deadline.
	w.stateMu.Lock()
	defer w.stateMu.Unlock()
	if r := w.replica; r != nil && r.hasState {
		req.HasState, req.Step, req.Fingerprint = true, r.step, r.fingerprint
	}
	return req
}

// rejoin contacts the configured join addresses once, without waiting on
// failure: the register loop calls it again on its next round.
func (w *Worker) rejoin() {
	if len(w.cfg.Join) == 0 {
		return
	}
	if err := w.node.JoinOnce(w.cfg.Join); err != nil {
		w.logger.Debug("rejoin failed", "join", w.cfg.Join, "err", err)
	}
}

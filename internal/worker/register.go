package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/hashicorp/memberlist"

	"github.com/ringtrain/ringtrain/internal/membership"
	ringtrainpb "github.com/ringtrain/ringtrain/proto/ringtrain/v1"
)

// registerTimeout bounds one Register call.
const registerTimeout = 5 * time.Second

// ErrNameInUse reports that the coordinator rejected this worker because a
// live worker at another address holds its name.
var ErrNameInUse = errors.New("worker: coordinator rejected the registration")

// ErrIncompatible reports that the coordinator rejected this worker because
// it speaks another version of the protocol.
var ErrIncompatible = errors.New("worker: coordinator speaks another protocol version")

// registerLoop registers with the coordinator whenever memberlist shows one
// this worker has not registered with yet: the first coordinator, and every
// coordinator that restarts under a new incarnation. It returns nil when ctx
// ends, an error wrapping [ErrNameInUse] when the coordinator rejects
// the worker's name, and one wrapping [ErrIncompatible] when it rejects the
// worker's protocol version.
func (w *Worker) registerLoop(ctx context.Context) error {
	type target struct {
		addr        string
		incarnation uint64
	}
	var registered target
	retry := newRegisterRetry()
	ticker := time.NewTicker(2 * time.Second)
	defer ticker.Stop()
	for {
		coord, found := w.findCoordinator()
		if found && (target{coord.Meta.GRPCAddress, coord.Meta.Incarnation}) != registered {
			err := w.register(ctx, coord.Meta.GRPCAddress)
			if status.Code(err) == codes.AlreadyExists {
				return fmt.Errorf("%w: %s", ErrNameInUse, status.Convert(err).Message())
			}
			if status.Code(err) == codes.FailedPrecondition {
				return fmt.Errorf("%w: %s", ErrIncompatible, status.Convert(err).Message())
			}
			if err != nil {
				if !w.waitToRetry(ctx, &retry, coord.Meta.GRPCAddress, err) {
					return nil
				}
				continue
			}
			registered = target{coord.Meta.GRPCAddress, coord.Meta.Incarnation}
			retry = newRegisterRetry()
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
			return nil
		case <-w.node.Changed():
		case <-ticker.C:
		}
	}
}

// registerRetry paces the register attempts that follow a failure.
type registerRetry struct {
	backoff     time.Duration
	lastFailure string
}

func newRegisterRetry() registerRetry {
	return registerRetry{backoff: 250 * time.Millisecond}
}

// waitToRetry logs a failed register attempt and waits for the delay in
// the coordinator's RetryInfo, or else for the backoff, which doubles from
// 250ms up to 5s. It returns false when ctx ends first.
func (w *Worker) waitToRetry(ctx context.Context, retry *registerRetry, coordAddr string, err error) bool {
	wait, requested := retryDelay(err)
	if !requested {
		wait = retry.backoff
		retry.backoff = min(2*retry.backoff, 5*time.Second)
	}
	// A wait for the worker's name repeats one message for as long as
	// memberlist takes to release the name, so only its first is a warning.
	level := slog.LevelWarn
	if err.Error() == retry.lastFailure {
		level = slog.LevelDebug
	}
	retry.lastFailure = err.Error()
	w.logger.Log(ctx, level, "register with coordinator failed, retrying",
		"coordinator", coordAddr, "retry_in", wait, "err", err)
	select {
	case <-ctx.Done():
		return false
	case <-time.After(wait):
	}
	if requested {
		// The name still belongs to an earlier process of this worker.
		// Sending this process's gossip state just before the next attempt
		// lets memberlist take the new address as soon as it may, usually
		// in time for that attempt.
		w.rejoin()
	}
	return true
}

// retryDelay returns the retry delay of a RetryInfo detail in a gRPC error.
func retryDelay(err error) (time.Duration, bool) {
	for _, detail := range status.Convert(err).Details() {
		if info, ok := detail.(*errdetails.RetryInfo); ok && info.GetRetryDelay() != nil {
			return info.GetRetryDelay().AsDuration(), true
		}
	}
	return 0, false
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

		ProtocolVersion: ringtrainpb.ProtocolVersion,
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

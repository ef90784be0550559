package coordinator

import (
	"context"
	"fmt"
	"slices"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/ringtrain/ringtrain/internal/membership"
)

// nameRetryDelay is the retry delay sent to a worker whose name still
// belongs to another address. The worker sends its gossip state before each
// attempt, so the delay bounds how late memberlist learns the new address
// once it lets the name go.
const nameRetryDelay = 500 * time.Millisecond

// holderProbeTimeout bounds the health check of the worker that holds a
// name. A live worker responds within milliseconds, even during a step.
const holderProbeTimeout = time.Second

// claimName decides whether a worker registering as name at addr may take
// the name. Another address holds the name when memberlist lists it for the
// name or the registry's record has it. claimName returns nil when no other
// address holds the name, or when the holder fails a health check and
// memberlist already lists addr for the name, which it does only once the
// holder is dead or gone. A holder that passes the health check is live and
// is never replaced, so the error is AlreadyExists. While memberlist has not
// yet moved the name to addr, the error is Unavailable with a RetryInfo.
func (c *Coordinator) claimName(ctx context.Context, name, addr string) error {
	listed := listedAddr(c.node.Members(), name)
	var holders []string
	for _, holder := range []string{listed, c.registry.addrOf(name)} {
		if holder != "" && holder != addr && !slices.Contains(holders, holder) {
			holders = append(holders, holder)
		}
	}
	if len(holders) == 0 {
		return nil
	}

	for _, holder := range holders {
		if !isServing(ctx, holder) {
			continue
		}
		c.logger.Warn("registration rejected: worker name in use", "peer", name, "addr", addr, "holder", holder)
		c.status.event("worker %s at %s rejected: the name is in use by the worker at %s", name, addr, holder)
		return status.Errorf(codes.AlreadyExists,
			"worker name %q is in use by the live worker at %s: start this worker with another --name", name, holder)
	}
	if listed == addr {
		return nil
	}

	msg := fmt.Sprintf("memberlist does not list worker %q at %s yet", name, addr)
	if listed != "" {
		msg = fmt.Sprintf("worker name %q is held by the unresponsive worker at %s until memberlist declares it dead", name, listed)
	}
	if c.registry.noteWaiting(name, addr) {
		c.logger.Info("registration waits for the worker name", "peer", name, "addr", addr, "holder", holders[0])
		c.status.event("worker %s at %s waits until memberlist declares the unresponsive worker at %s dead", name, addr, holders[0])
	}
	st := status.New(codes.Unavailable, msg)
	if detailed, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(nameRetryDelay)}); err == nil {
		st = detailed
	}
	return st.Err()
}

// listedAddr returns the gRPC address memberlist lists for the worker of
// that name, or "" when it lists none.
func listedAddr(members []membership.Member, name string) string {
	for _, m := range members {
		if m.Name == name && m.Meta.Role == membership.RoleWorker {
			return m.Meta.GRPCAddress
		}
	}
	return ""
}

// isServing reports whether a gRPC health check of addr returns SERVING
// within holderProbeTimeout.
//
// NOTE: any process serving gRPC health checks at addr passes, not only
// the worker that registered there. If another process took over the
// address of a dead worker, that worker's restart is rejected as a
// duplicate.
func isServing(ctx context.Context, addr string) bool {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return false
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, holderProbeTimeout)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	return err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING
}

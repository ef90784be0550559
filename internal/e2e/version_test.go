package e2e_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/ringtrain/ringtrain/internal/coordinator"
	ringtrainpb "github.com/ringtrain/ringtrain/proto/ringtrain/v1"
)

func TestRegisterRejectsOtherProtocol(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	cfg := quickConfig(t)
	cfg.GRPCAddr = freeAddr(t)
	coord, err := coordinator.New(cfg)
	if err != nil {
		t.Fatalf("coordinator.New: %v", err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- coord.Run(runCtx) }()
	defer func() {
		stop()
		<-done
	}()

	conn, err := grpc.NewClient(cfg.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := ringtrainpb.NewCoordinatorClient(conn)
	req := &ringtrainpb.RegisterRequest{
		Name: "old-worker", GrpcAddress: "127.0.0.1:1", ProtocolVersion: ringtrainpb.ProtocolVersion + 1,
	}
	// The coordinator opens its gRPC port while it starts, so connection
	// errors and calls that time out waiting for one come first.
	for {
		callCtx, cancelCall := context.WithTimeout(ctx, time.Second)
		_, err = client.Register(callCtx, req)
		cancelCall()
		code := status.Code(err)
		if code != codes.Unavailable && code != codes.DeadlineExceeded || ctx.Err() != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("Register with protocol version %d = %v, want FailedPrecondition", req.ProtocolVersion, err)
	}
	want := fmt.Sprintf("protocol version %d, this coordinator %d", ringtrainpb.ProtocolVersion+1, ringtrainpb.ProtocolVersion)
	if msg := status.Convert(err).Message(); !strings.Contains(msg, want) {
		t.Errorf("Register error = %q, want it to name both protocol versions", msg)
	}
	if s := coord.FinalStatus(); len(s.Workers) != 0 {
		t.Errorf("status lists %d workers after the rejected registration, want 0", len(s.Workers))
	}
}

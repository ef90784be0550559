// Command worker runs one ringtrain training replica. It joins the cluster
// through memberlist, registers with the coordinator it finds there and
// trains until it is stopped, serving one job after another.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/ringtrain/ringtrain/internal/cli"
	"github.com/ringtrain/ringtrain/internal/nn"
	"github.com/ringtrain/ringtrain/internal/worker"
)

// gcPercent is the worker's GOGC when the GOGC variable is unset. The heap
// may then grow by 25% of the live heap between collections, against Go's
// default of 100%. Most of a worker's live heap is its model state, float32
// buffers that the collector does not scan, so collecting more often costs
// little. Each step leaves the received all-reduce frames behind as garbage,
// and at 100% that garbage lets the heap grow to about twice the live heap.
const gcPercent = 25

func main() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, cli.ErrorLine("worker", err))
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "healthcheck" {
		return healthcheck(ctx, args[1:])
	}
	opts, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	logger, err := cli.NewLogger(stderr, opts.logFormat, opts.logLevel)
	if err != nil {
		return err
	}
	opts.worker.Logger = logger
	logger.Info("starting worker", "name", opts.worker.Name, "join", opts.worker.Join,
		"grpc_addr", opts.worker.GRPCAddr, "gossip_addr", opts.worker.GossipAddr, "blas", nn.BLAS())
	w, err := worker.New(opts.worker)
	if err != nil {
		return err
	}
	return w.Run(ctx)
}

// healthcheck exits 0 when the worker's gRPC health service reports
// SERVING, for container health checks in images that hold no other program.
func healthcheck(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:7000", "gRPC address of the worker to check")
	if err := fs.Parse(args); err != nil {
		return err
	}
	conn, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return fmt.Errorf("healthcheck: %s: %w", *addr, err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("healthcheck: %s reports %s", *addr, resp.GetStatus())
	}
	return nil
}

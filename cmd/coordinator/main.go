// Command coordinator runs a ringtrain training job: it reads the dataset,
// drives the workers that join it through memberlist and serves the job's
// status over HTTP. With --local-workers it runs the workers too, in the
// same process on loopback.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/ringtrain/ringtrain/internal/cli"
	"github.com/ringtrain/ringtrain/internal/coordinator"
	"github.com/ringtrain/ringtrain/internal/progress"
	"github.com/ringtrain/ringtrain/internal/worker"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stderr)
	stop()
	// A stop by signal is logged by the coordinator and is no failure.
	if errors.Is(err, flag.ErrHelp) || errors.Is(err, coordinator.ErrStopped) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, cli.ErrorLine("coordinator", err))
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "healthcheck" {
		return healthcheck(ctx, args[1:])
	}
	if len(args) > 0 && args[0] == "evaluate" {
		return evaluate(ctx, args[1:], os.Stdout, stderr)
	}
	if len(args) > 0 && args[0] == "predict" {
		return predict(args[1:], os.Stdout, stderr)
	}
	opts, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	logger, err := cli.NewLogger(stderr, opts.logFormat, opts.logLevel)
	if err != nil {
		return err
	}
	opts.coord.Logger = logger
	opts.coord.Progress = stderr
	if f, ok := stderr.(*os.File); ok {
		opts.coord.ProgressBar = progress.IsTerminal(f)
	}

	coord, err := coordinator.New(opts.coord)
	if err != nil {
		return err
	}

	// Local workers run until the job ends, also after a signal, so the
	// coordinator can fetch a last checkpoint from them. They are started
	// after the coordinator so they can join its gossip address.
	workerCtx, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWorkers()
	var wg sync.WaitGroup
	for i := range opts.localWorkers {
		w, err := worker.New(worker.Config{
			Name:       "local-" + strconv.Itoa(i+1),
			GRPCAddr:   "127.0.0.1:0",
			GossipAddr: "127.0.0.1:0",
			Join:       []string{coord.GossipAddr()},
			Logger:     logger,
		})
		if err != nil {
			stopWorkers()
			wg.Wait()
			return fmt.Errorf("start local worker %d: %w", i+1, err)
		}
		wg.Go(func() {
			if err := w.Run(workerCtx); err != nil {
				logger.Error("local worker stopped", "worker", w.Name(), "err", err)
			}
		})
	}

	warnMissingWorkers(logger, opts, coord.GossipAddr())
	err = coord.Run(ctx)
	stopWorkers()
	wg.Wait()
	return err
}

// warnMissingWorkers warns when the local workers alone cannot reach
// --min-workers. The job then waits for others to join at the gossip
// address, which is no mistake when they are on their way.
func warnMissingWorkers(logger *slog.Logger, opts *options, gossipAddr string) {
	if opts.localWorkers == 0 || opts.coord.MinWorkers <= opts.localWorkers {
		return
	}
	logger.Warn("fewer local workers than --min-workers: the job waits for the others to join",
		"local_workers", opts.localWorkers, "min_workers", opts.coord.MinWorkers,
		"missing", opts.coord.MinWorkers-opts.localWorkers, "join", gossipAddr)
}

// healthcheck exits 0 when the coordinator's /healthz returns 200, for
// container health checks in images that hold no other program.
func healthcheck(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	url := fs.String("url", "http://127.0.0.1:8080/healthz", "health endpoint to query")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s returned %s", *url, resp.Status)
	}
	return nil
}

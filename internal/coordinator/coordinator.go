// Package coordinator is the coordinator role of a ringtrain cluster as a
// library.
//
// The coordinator owns the job: the dataset, the epoch orders, the
// membership views and their generations. It reads the dataset, admits the
// workers that register with it and that memberlist shows alive, arranges
// them in a ring, and drives training one global batch at a time, sending
// each worker the samples of its slice. It evaluates the test set after each
// epoch and serves the job's status over HTTP.
//
// The coordinator and the worker never import each other: they meet over
// gRPC and memberlist only, also when one process runs both.
package coordinator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/ringtrain/ringtrain/internal/checkpoint"
	"github.com/ringtrain/ringtrain/internal/dataset"
	"github.com/ringtrain/ringtrain/internal/membership"
	"github.com/ringtrain/ringtrain/internal/metrics"
	"github.com/ringtrain/ringtrain/internal/nn"
	"github.com/ringtrain/ringtrain/internal/progress"
	ringtrainpb "github.com/ringtrain/ringtrain/proto/ringtrain/v1"
)

// Coordinator runs one training job. Create it with [New], then call
// [Coordinator.Run] once.
type Coordinator struct {
	cfg    Config
	logger *slog.Logger
	jobID  string

	grpcListener net.Listener
	httpListener net.Listener
	grpcServer   *grpc.Server
	httpServer   *http.Server
	node         *membership.Node
	grpcAddr     string // advertised

	registry *registry
	status   *statusBoard
	metrics  *metrics.Metrics
	bar      *progress.Bar

	// Owned by the training loop; no other goroutine touches them.
	data    *dataset.Dataset
	job     *ringtrainpb.JobSpec
	view    *view
	pos     position
	nextGen uint64
	// restored is the checkpoint the job resumed from, the source of the
	// replicas' state until workers hold it or a newer checkpoint exists.
	restored *checkpoint.Checkpoint
	// adopted is set once the workers' reported state has been considered.
	adopted bool
	// viewReason is the reason the next view is formed.
	viewReason string
	// lastMembers names the workers of the last view installed.
	lastMembers []string

	ringtrainpb.UnimplementedCoordinatorServer
}

// New validates cfg and opens the coordinator's listeners: gRPC, HTTP and
// gossip. It reads no data and contacts no worker until [Coordinator.Run].
func New(cfg Config) (*Coordinator, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := cfg.checkOutputs(); err != nil {
		return nil, err
	}
	cfg.Logger.Info("starting coordinator", "dataset", cfg.Dataset, "model", cfg.Model,
		"epochs", cfg.Epochs, "batch_size", cfg.BatchSize, "optimizer", cfg.Optimizer, "lr", cfg.LearningRate,
		"seed", cfg.Seed, "mode", cfg.Mode, "micro_batch", exactMicroBatch(cfg), "overlap", !cfg.ReduceAfterBackward,
		"min_workers", cfg.MinWorkers, "step_timeout", cfg.StepTimeout, "blas", nn.BLAS())
	id := make([]byte, 6)
	rand.Read(id)
	c := &Coordinator{
		cfg:    cfg,
		logger: cfg.Logger,
		jobID:  hex.EncodeToString(id),
	}
	c.registry = newRegistry()
	c.status = newStatusBoard(c.jobID, cfg)
	c.metrics = metrics.New()
	c.bar = progress.New(cfg.Progress, cfg.ProgressBar)

	var err error
	if c.grpcListener, err = net.Listen("tcp", cfg.GRPCAddr); err != nil {
		return nil, fmt.Errorf("coordinator: listen for gRPC on %s: %w", cfg.GRPCAddr, err)
	}
	if c.httpListener, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		c.grpcListener.Close()
		return nil, fmt.Errorf("coordinator: listen for HTTP on %s: %w", cfg.HTTPAddr, err)
	}

	mcfg := cfg.Membership
	// memberlist keeps a dead node's name and ignores a newcomer under it
	// with a lower incarnation, so each coordinator process gossips under
	// a name of its own.
	mcfg.Name = cfg.Name + "-" + hex.EncodeToString(id[:3])
	mcfg.BindAddr = cfg.GossipAddr
	mcfg.AdvertiseHost = cfg.AdvertiseHost
	mcfg.Logger = c.logger
	incarnation := uint64(time.Now().UnixNano())
	mcfg.Meta = membership.Meta{Role: membership.RoleCoordinator, Incarnation: incarnation}
	if c.node, err = membership.Start(mcfg); err != nil {
		c.closeListeners()
		return nil, fmt.Errorf("coordinator: %w", err)
	}
	c.grpcAddr = advertisedAddr(c.grpcListener.Addr(), cfg.AdvertiseHost, c.node.AdvertiseHost())
	meta := mcfg.Meta
	meta.GRPCAddress = c.grpcAddr
	if err := c.node.SetMeta(meta, time.Second); err != nil {
		c.node.Shutdown()
		c.closeListeners()
		return nil, fmt.Errorf("coordinator: %w", err)
	}

	c.grpcServer = grpc.NewServer()
	ringtrainpb.RegisterCoordinatorServer(c.grpcServer, c)
	c.httpServer = &http.Server{Handler: c.routes(), ReadHeaderTimeout: 10 * time.Second}
	c.logger.Info("coordinator listening", "job", c.jobID,
		"grpc", c.grpcListener.Addr().String(), "advertise", c.grpcAddr,
		"http", c.httpListener.Addr().String(), "gossip", c.node.GossipAddr())
	return c, nil
}

func (c *Coordinator) closeListeners() {
	c.grpcListener.Close()
	c.httpListener.Close()
}

// advertisedAddr returns the address workers should dial for a listener:
// its own host when it is bound to one, else the advertise host, else the
// host memberlist chose.
func advertisedAddr(addr net.Addr, advertiseHost, gossipHost string) string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return addr.String()
	}
	host := tcp.IP.String()
	if advertiseHost != "" {
		host = advertiseHost
	} else if tcp.IP.IsUnspecified() {
		host = gossipHost
	}
	return net.JoinHostPort(host, strconv.Itoa(tcp.Port))
}

// GossipAddr returns the address workers pass to --join.
func (c *Coordinator) GossipAddr() string { return c.node.GossipAddr() }

// HTTPAddr returns the address the status server listens on.
func (c *Coordinator) HTTPAddr() string { return c.httpListener.Addr().String() }

// FinalStatus returns the job's status document, as /status serves it. After
// [Coordinator.Run] returns, it is the final one.
func (c *Coordinator) FinalStatus() Status { return c.status.snapshot() }

// JobID returns the job's identifier.
func (c *Coordinator) JobID() string { return c.jobID }

// Run loads the dataset, trains the job to the end and writes its outputs.
// It returns nil when every epoch finished, and an error when the job
// cannot go on. When ctx ends, the job stops at the last committed step,
// writes a checkpoint when CheckpointDir is set, and Run returns an error
// wrapping [ErrStopped] and ctx's error. Either way the servers are
// stopped on return.
//
// Shutdown order: the final status is written first, so the history file
// records the job's end. Then the coordinator leaves the gossip cluster, so
// workers stop looking for it. Then the gRPC server stops, and the HTTP
// server last, so /status stays readable to the end.
func (c *Coordinator) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := c.httpServer.Serve(c.httpListener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			c.logger.Error("HTTP server stopped", "err", err)
		}
	})

	err := c.runJob(ctx, &wg)
	switch {
	case err == nil:
		c.status.setState(StateFinished)
		c.logger.Info("job finished", "job", c.jobID)
	case ctx.Err() != nil:
		// Whatever failed last, the caller ended the job.
		err = c.stop(ctx)
	default:
		c.status.fail(err)
		c.logger.Error("job failed", "job", c.jobID, "err", err)
	}
	c.registry.markIdle()
	if c.cfg.History != "" {
		if werr := c.status.writeFile(c.cfg.History); werr != nil {
			c.logger.Error("write history failed", "path", c.cfg.History, "err", werr)
			// A stop that lost the history is no longer clean.
			if errors.Is(err, ErrStopped) {
				err = nil
			}
			err = errors.Join(err, werr)
		}
	}

	c.node.Leave(time.Second)
	c.registry.closeConns()
	c.grpcServer.Stop()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.httpServer.Shutdown(shutdownCtx)
	wg.Wait()
	return err
}

func (c *Coordinator) runJob(ctx context.Context, wg *sync.WaitGroup) error {
	if err := c.loadData(ctx); err != nil {
		return err
	}
	if err := c.restore(); err != nil {
		return err
	}
	// Workers register only now, so they learn the job's identifier as the
	// checkpoint has it.
	wg.Go(func() {
		if err := c.grpcServer.Serve(c.grpcListener); err != nil {
			c.logger.Error("gRPC server stopped", "err", err)
		}
	})
	c.viewReason = "job started"
	if c.pos.step > 0 {
		c.viewReason = "coordinator restarted"
	}
	if err := c.train(ctx); err != nil {
		return err
	}
	if err := c.writeModel(ctx); err != nil {
		return err
	}
	return c.writeReport()
}

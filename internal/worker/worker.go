// Package worker is the worker role of a ringtrain cluster as a library.
//
// A worker serves two gRPC services on one port: Worker, through which the
// coordinator configures it, sends it samples and requests steps, and Ring,
// through which its ring neighbours exchange all-reduce frames. It finds the
// coordinator through memberlist and registers with it; it reads no dataset
// files. A worker outlives the jobs and coordinators it serves: when the
// coordinator goes away it keeps its state and registers again with the next.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/ringtrain/ringtrain/internal/allreduce"
	"github.com/ringtrain/ringtrain/internal/membership"
	ringtrainpb "github.com/ringtrain/ringtrain/proto/ringtrain/v1"
)

// Config configures a [Worker].
type Config struct {
	// Name identifies the worker in the cluster. It must be unique and stay
	// the same when the worker restarts. Required.
	Name string
	// GRPCAddr is the host:port the gRPC server listens on. Port 0 picks a
	// free port. Default ":7000".
	GRPCAddr string
	// GossipAddr is the host:port memberlist listens on. Port 0 picks a free
	// port. Default ":7946".
	GossipAddr string
	// AdvertiseHost is the host other nodes use to reach this worker, for
	// both gossip and gRPC. Empty means memberlist's choice of address.
	AdvertiseHost string
	// Join lists gossip addresses of nodes already in the cluster. The
	// worker retries until one answers. Empty means wait to be joined.
	Join []string
	// Membership tunes failure detection; zero fields take the defaults of
	// [membership.DefaultConfig].
	Membership membership.Config
	// Ring configures the all-reduce; zero fields take the defaults of
	// [allreduce.DefaultConfig].
	Ring allreduce.Config
	// Logger receives the worker's logs. Nil means slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns the defaults for a worker in a container.
func DefaultConfig() Config {
	return Config{GRPCAddr: ":7000", GossipAddr: ":7946"}
}

func (c *Config) validate() error {
	d := DefaultConfig()
	if c.Name == "" {
		return errors.New("worker: name is empty: set --name to a name unique in the cluster")
	}
	if c.GRPCAddr == "" {
		c.GRPCAddr = d.GRPCAddr
	}
	if c.GossipAddr == "" {
		c.GossipAddr = d.GossipAddr
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Worker is one training replica. Create it with [New], then call
// [Worker.Run].
type Worker struct {
	cfg         Config
	logger      *slog.Logger
	incarnation uint64

	listener net.Listener
	server   *grpc.Server
	ring     *allreduce.Service
	node     *membership.Node
	grpcAddr string // advertised

	// viewMu guards jobID and generation, which handlers read without
	// waiting for a step in flight.
	viewMu     sync.Mutex
	jobID      string
	generation uint64

	// stateMu serialises everything that reads or changes the replica:
	// configuration, steps, evaluation and state transfer.
	stateMu sync.Mutex
	replica *replica

	times stepTimes

	ringtrainpb.UnimplementedWorkerServer
}

// New opens the worker's listeners: the gRPC port and the gossip port. It
// contacts no other node until [Worker.Run].
func New(cfg Config) (*Worker, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	w := &Worker{
		cfg:         cfg,
		logger:      cfg.Logger.With("worker", cfg.Name),
		incarnation: rand.Uint64(),
	}

	lis, err := net.Listen("tcp", cfg.GRPCAddr)
	if err != nil {
		return nil, fmt.Errorf("worker: listen for gRPC on %s: %w", cfg.GRPCAddr, err)
	}
	w.listener = lis

	ringCfg := cfg.Ring
	ringCfg.Logger = w.logger
	if ringCfg.FrameElements == 0 {
		ringCfg.FrameElements = allreduce.DefaultConfig().FrameElements
	}
	ring, err := allreduce.NewService(ringCfg)
	if err != nil {
		lis.Close()
		return nil, fmt.Errorf("worker: %w", err)
	}
	w.ring = ring

	mcfg := cfg.Membership
	mcfg.Name = cfg.Name
	mcfg.BindAddr = cfg.GossipAddr
	mcfg.AdvertiseHost = cfg.AdvertiseHost
	mcfg.Logger = w.logger
	mcfg.Meta = membership.Meta{Role: membership.RoleWorker, Incarnation: w.incarnation}
	node, err := membership.Start(mcfg)
	if err != nil {
		ring.Close()
		lis.Close()
		return nil, fmt.Errorf("worker: %w", err)
	}
	w.node = node

	w.grpcAddr = advertisedAddr(lis.Addr(), cfg.AdvertiseHost, node.AdvertiseHost())
	meta := mcfg.Meta
	meta.GRPCAddress = w.grpcAddr
	if err := node.SetMeta(meta, time.Second); err != nil {
		node.Shutdown()
		ring.Close()
		lis.Close()
		return nil, fmt.Errorf("worker: %w", err)
	}

	w.server = grpc.NewServer(append(allreduce.ServerOptions(), grpc.MaxRecvMsgSize(8<<20))...)
	ringtrainpb.RegisterWorkerServer(w.server, w)
	ring.Register(w.server)
	healthpb.RegisterHealthServer(w.server, health.NewServer())
	w.logger.Info("worker listening", "grpc", lis.Addr().String(), "advertise", w.grpcAddr, "gossip", node.GossipAddr())
	return w, nil
}

// advertisedAddr returns the address peers should dial for a listener: its
// own host when it is bound to one, else the advertise host, else the host
// memberlist chose.
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

// GRPCAddr returns the address the worker advertises for its gRPC server.
func (w *Worker) GRPCAddr() string { return w.grpcAddr }

// GossipAddr returns the worker's advertised gossip address.
func (w *Worker) GossipAddr() string { return w.node.GossipAddr() }

// Name returns the worker's name.
func (w *Worker) Name() string { return w.cfg.Name }

// Run serves until ctx ends: it joins the cluster, registers with every
// coordinator that appears and serves the coordinator's calls. On return
// the worker has left the cluster and closed its listeners. It returns an
// error wrapping [ErrNameInUse] when the coordinator rejects the worker
// because a live worker at another address holds its name, and one wrapping
// [ErrIncompatible] when it rejects the worker's protocol version.
//
// Shutdown order: the gossip node leaves first, so the others stop routing
// to this worker; then the ring fails any collective in flight, which ends
// a blocked step; then the gRPC server stops. A worker whose name was
// rejected stops its gossip node without a leave message, because that
// message names only the node, and the others would apply it to the live
// worker that holds the name.
func (w *Worker) Run(ctx context.Context) error {
	serveErr := make(chan error, 1)
	go func() { serveErr <- w.server.Serve(w.listener) }()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	registerErr := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := w.node.Join(ctx, w.cfg.Join); err != nil && ctx.Err() == nil {
			w.logger.Error("join cluster failed", "err", err)
			return
		}
		if err := w.registerLoop(ctx); err != nil {
			registerErr <- err
		}
	})

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
		err = fmt.Errorf("worker: gRPC server stopped: %w", err)
	case err = <-registerErr:
		w.node.Shutdown()
	}
	cancel()
	wg.Wait()
	w.node.Leave(time.Second)
	w.ring.Close()
	w.server.Stop()
	w.logger.Info("worker stopped")
	return err
}

// Kill stops the worker at once, without leaving the cluster gracefully, as
// a crash would. Tests use it to simulate a failed process.
func (w *Worker) Kill() {
	w.node.Shutdown()
	w.ring.Close()
	w.server.Stop()
}

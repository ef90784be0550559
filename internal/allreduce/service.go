package allreduce

import (
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	ringtrainpb "github.com/ringtrain/ringtrain/proto/ringtrain/v1"
)

// View is one membership view of the ring.
type View struct {
	Generation uint64
	Rank       int      // this member's rank
	Peers      []string // gRPC addresses in rank order; Peers[Rank] is this member
}

// Service runs ring all-reduces with the other members of the current view.
// It serves the Ring service for the previous rank and streams to the next
// rank. All methods are safe for concurrent use, and collectives with
// different sequence numbers may run at the same time.
type Service struct {
	ringtrainpb.UnimplementedRingServer

	cfg      Config
	logger   *slog.Logger
	stopped  chan struct{}  // closed by Close
	running  sync.WaitGroup // AllReduce calls that reached the ring
	handlers sync.WaitGroup // Exchange handlers

	// receiveHook, if set, runs after each frame a call applies. Tests use
	// it to stop a collective at a known point.
	receiveHook atomic.Pointer[func(step, offset int)]

	sendStates sync.Pool // of *sendState

	mu sync.Mutex
	// Guarded by mu.
	closed   bool
	hasView  bool
	view     View
	conn     *grpc.ClientConn // to the next rank; nil in a ring of one
	connAddr string
	client   ringtrainpb.RingClient
	inboxes  map[inboxKey]*inbox
	calls    map[inboxKey]*call
	stats    Stats
	// ended maps the calls of the current generation that have ended to
	// their results, nil for success. A stream that arrives after its call
	// ended is rejected at once, because no call would consume it.
	// completed is the highest sequence that succeeded in the current
	// generation, if hasCompleted.
	ended        map[inboxKey]error
	completed    uint64
	hasCompleted bool
}

// NewService returns a service with no view. Register it on a gRPC server
// and call [Service.SetView] before the first collective.
func NewService(cfg Config) (*Service, error) {
	cfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	return &Service{
		cfg:     cfg,
		logger:  cfg.Logger,
		stopped: make(chan struct{}),
		inboxes: make(map[inboxKey]*inbox),
		calls:   make(map[inboxKey]*call),
		ended:   make(map[inboxKey]error),
	}, nil
}

// Register registers the Ring service on srv.
func (s *Service) Register(srv *grpc.Server) {
	ringtrainpb.RegisterRingServer(srv, s)
}

// SetView installs v. It dials the next rank, reusing the connection when
// the address is unchanged, fails calls in flight with
// [ErrStaleGeneration], and drops frames buffered for other generations.
// From then on streams of any other generation are rejected. Installing the
// current view again does nothing. Every member must install a view before
// any member starts a collective in it.
func (s *Service) SetView(v View) error {
	if err := validateView(v); err != nil {
		return err
	}
	n := len(v.Peers)
	nextAddr := v.Peers[(v.Rank+1)%n]

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return fmt.Errorf("allreduce: set view of generation %d: %w", v.Generation, ErrStopped)
	}
	if s.hasView {
		if err := checkSuccessor(s.view, v); err != nil {
			s.mu.Unlock()
			return err
		}
		if v.Generation == s.view.Generation {
			s.mu.Unlock()
			return nil
		}
	}

	// A ring of one never dials.
	var oldConn *grpc.ClientConn
	if n == 1 {
		oldConn, s.conn, s.connAddr, s.client = s.conn, nil, "", nil
	} else if s.conn == nil || s.connAddr != nextAddr {
		conn, err := grpc.NewClient(nextAddr, s.dialOptions()...)
		if err != nil {
			s.mu.Unlock()
			return fmt.Errorf("allreduce: dial rank %d at %q: %w", (v.Rank+1)%n, nextAddr, err)
		}
		oldConn, s.conn, s.connAddr, s.client = s.conn, conn, nextAddr, ringtrainpb.NewRingClient(conn)
	}

	if s.hasView {
		stale := fmt.Errorf("allreduce: view changed from generation %d to %d: %w",
			s.view.Generation, v.Generation, ErrStaleGeneration)
		for _, cl := range s.calls {
			cl.cancel(stale)
		}
		for key, ib := range s.inboxes {
			if key.generation != v.Generation {
				ib.finish(stale)
				delete(s.inboxes, key)
			}
		}
	}
	s.view = View{Generation: v.Generation, Rank: v.Rank, Peers: slices.Clone(v.Peers)}
	s.hasView = true
	clear(s.ended)
	s.completed, s.hasCompleted = 0, false
	s.mu.Unlock()

	if oldConn != nil {
		// Its streams belong to the calls failed above.
		if err := oldConn.Close(); err != nil {
			s.logger.Debug("allreduce close old connection", "generation", v.Generation, "err", err)
		}
	}
	s.logger.Info("allreduce view installed", "generation", v.Generation, "rank", v.Rank,
		"size", n, "next", nextAddr)
	return nil
}

func validateView(v View) error {
	if len(v.Peers) == 0 {
		return fmt.Errorf("allreduce: view of generation %d has no peers", v.Generation)
	}
	if v.Rank < 0 || v.Rank >= len(v.Peers) {
		return fmt.Errorf("allreduce: view of generation %d has rank %d, want 0 to %d",
			v.Generation, v.Rank, len(v.Peers)-1)
	}
	for i, addr := range v.Peers {
		if addr == "" {
			return fmt.Errorf("allreduce: view of generation %d has no address for rank %d", v.Generation, i)
		}
	}
	return nil
}

// checkSuccessor returns an error unless next may follow cur: a newer
// generation, or the same view again.
func checkSuccessor(cur, next View) error {
	switch {
	case next.Generation < cur.Generation:
		return fmt.Errorf("allreduce: view of generation %d is older than the installed generation %d",
			next.Generation, cur.Generation)
	case next.Generation == cur.Generation &&
		(next.Rank != cur.Rank || !slices.Equal(next.Peers, cur.Peers)):
		return fmt.Errorf("allreduce: generation %d is installed with another ring; a changed ring needs a new generation",
			next.Generation)
	}
	return nil
}

func (s *Service) dialOptions() []grpc.DialOption {
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	opts = append(opts, transportDialOptions()...)
	return append(opts, s.cfg.DialOptions...)
}

// Reset forgets the installed view, so the next [Service.SetView] may start
// the generations over, as a new job does. Calls in flight fail with
// [ErrStaleGeneration] and buffered frames are dropped.
func (s *Service) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.hasView {
		return
	}
	stale := fmt.Errorf("allreduce: view of generation %d reset: %w", s.view.Generation, ErrStaleGeneration)
	for _, cl := range s.calls {
		cl.cancel(stale)
	}
	for key, ib := range s.inboxes {
		ib.finish(stale)
		delete(s.inboxes, key)
	}
	s.hasView = false
	s.view = View{}
	clear(s.ended)
	s.completed, s.hasCompleted = 0, false
}

// Close fails calls in flight with [ErrStopped], ends the Exchange handlers
// and closes the connection to the next rank. Later calls fail with
// ErrStopped. A second Close does nothing. Close does not stop the gRPC
// server that the service is registered on.
func (s *Service) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.stopped)
	stopped := fmt.Errorf("allreduce: service closed: %w", ErrStopped)
	for _, cl := range s.calls {
		cl.cancel(stopped)
	}
	for key, ib := range s.inboxes {
		ib.finish(stopped)
		delete(s.inboxes, key)
	}
	conn := s.conn
	s.conn, s.client = nil, nil
	s.mu.Unlock()

	// Shutdown order: the calls return first, so that none still uses the
	// connection. The handlers return next, because their inboxes are
	// finished and stopped is closed. The connection closes last.
	s.running.Wait()
	s.handlers.Wait()
	if conn != nil {
		if err := conn.Close(); err != nil {
			return fmt.Errorf("allreduce: close connection to the next rank: %w", err)
		}
	}
	return nil
}

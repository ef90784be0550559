package membership

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
)

// Config configures a [Node].
type Config struct {
	// Name identifies the node in the cluster and must be unique in it.
	Name string
	// BindAddr is the host:port memberlist listens on, over UDP and TCP.
	// Port 0 picks a free port. Default "0.0.0.0:7946".
	BindAddr string
	// AdvertiseHost is the address other nodes use to reach this one.
	// Empty means memberlist's choice: the bind address, or the first
	// private address when bound to all interfaces.
	AdvertiseHost string
	// Meta is gossiped to the other nodes; see [Node.SetMeta].
	Meta Meta
	// ProbeInterval is the time between failure probes of a random node.
	// Default 1s, memberlist's LAN setting.
	ProbeInterval time.Duration
	// ProbeTimeout is how long a probe waits for an ack before it asks
	// other nodes to probe indirectly. Default 500ms, or half the probe
	// interval when that is shorter.
	ProbeTimeout time.Duration
	// SuspicionMult scales how long a suspect node has to refute the
	// suspicion before it is declared dead. Default 4.
	SuspicionMult int
	// PushPullInterval is the time between full state exchanges with a
	// random node. A node cut off and reconnected learns in such an
	// exchange that the others declared it dead, and refutes that, so this
	// bounds how long it stays out. Default 5s. memberlist's LAN setting is
	// 30s, meant for clusters far larger than a training ring.
	PushPullInterval time.Duration
	// DeadNodeReclaimTime is how long a node must have been dead before a
	// node of the same name at another address may take over the name, as
	// a worker restarted on new ports does. Default 1s. With memberlist's
	// default of 0, memberlist v0.7.0 rejects the new address until it drops
	// the dead entry, 30s or more after the death (GossipToTheDeadTime of
	// its LAN configuration). A node declared dead wrongly but still
	// reachable learns of it from the gossip that memberlist keeps sending to
	// dead nodes, in rounds 200ms apart, and refutes at its old address.
	// The wait gives it that head start over another process that claims
	// the name.
	DeadNodeReclaimTime time.Duration
	// Logger receives memberlist's log lines and the node's own. Nil means
	// slog.Default().
	Logger *slog.Logger
}

// DefaultConfig returns the defaults for a node bound to all interfaces.
func DefaultConfig() Config {
	return Config{
		BindAddr:            "0.0.0.0:7946",
		ProbeInterval:       time.Second,
		ProbeTimeout:        500 * time.Millisecond,
		SuspicionMult:       4,
		PushPullInterval:    5 * time.Second,
		DeadNodeReclaimTime: time.Second,
	}
}

func (c *Config) validate() error {
	d := DefaultConfig()
	if c.Name == "" {
		return errors.New("membership: node name is empty: set a name unique in the cluster")
	}
	if c.BindAddr == "" {
		c.BindAddr = d.BindAddr
	}
	if c.ProbeInterval == 0 {
		c.ProbeInterval = d.ProbeInterval
	}
	if c.ProbeTimeout == 0 {
		c.ProbeTimeout = min(d.ProbeTimeout, c.ProbeInterval/2)
	}
	if c.SuspicionMult == 0 {
		c.SuspicionMult = d.SuspicionMult
	}
	if c.PushPullInterval == 0 {
		c.PushPullInterval = d.PushPullInterval
	}
	if c.DeadNodeReclaimTime == 0 {
		c.DeadNodeReclaimTime = d.DeadNodeReclaimTime
	}
	if c.ProbeInterval < 0 || c.ProbeTimeout < 0 {
		return fmt.Errorf("membership: invalid probe interval %v or timeout %v: want positive durations", c.ProbeInterval, c.ProbeTimeout)
	}
	if c.SuspicionMult < 0 {
		return fmt.Errorf("membership: invalid suspicion multiplier %d: want 1 or more", c.SuspicionMult)
	}
	if c.ProbeTimeout >= c.ProbeInterval {
		return fmt.Errorf("membership: probe timeout %v is not below probe interval %v: lower the timeout", c.ProbeTimeout, c.ProbeInterval)
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Member is a node as the local node's member list records it.
type Member struct {
	Name string
	// Addr is the member's gossip address, host:port.
	Addr string
	Meta Meta
	// NOTE: memberlist v0.7.0 never sets the State of the nodes that
	// Members returns, so State is always memberlist.StateAlive here, also
	// for a suspect node. Dead and left nodes are not returned at all.
	State memberlist.NodeStateType
}

// Node is this process's membership in the cluster. Its methods are safe for
// concurrent use.
type Node struct {
	ml       *memberlist.Memberlist
	delegate *delegate
	logger   *slog.Logger
	changed  chan struct{}

	shutdownOnce sync.Once
}

// Start creates the local node and begins listening for gossip. It does not
// contact any other node; call [Node.Join] for that.
func Start(cfg Config) (*Node, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	host, portText, err := net.SplitHostPort(cfg.BindAddr)
	if err != nil {
		return nil, fmt.Errorf("membership: invalid gossip address %q: %w (want host:port)", cfg.BindAddr, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("membership: invalid gossip port %q in %q: want 0 to 65535", portText, cfg.BindAddr)
	}
	if host == "" {
		host = "0.0.0.0"
	}
	meta, err := cfg.Meta.encode()
	if err != nil {
		return nil, err
	}

	n := &Node{logger: cfg.Logger.With("node", cfg.Name), changed: make(chan struct{}, 1)}
	n.delegate = &delegate{node: n, meta: meta}

	mc := memberlist.DefaultLANConfig()
	mc.Name = cfg.Name
	mc.BindAddr = host
	mc.BindPort = port
	mc.AdvertisePort = port
	if cfg.AdvertiseHost != "" {
		mc.AdvertiseAddr = cfg.AdvertiseHost
	}
	mc.ProbeInterval = cfg.ProbeInterval
	mc.ProbeTimeout = cfg.ProbeTimeout
	mc.SuspicionMult = cfg.SuspicionMult
	mc.PushPullInterval = cfg.PushPullInterval
	mc.DeadNodeReclaimTime = cfg.DeadNodeReclaimTime
	mc.Delegate = n.delegate
	mc.Events = n.delegate
	mc.LogOutput = nil
	mc.Logger = log.New(newLogWriter(n.logger), "", 0)

	ml, err := memberlist.Create(mc)
	if err != nil {
		return nil, fmt.Errorf("membership: start gossip on %s: %w", cfg.BindAddr, err)
	}
	n.ml = ml
	local := ml.LocalNode()
	n.logger.Info("gossip listening", "addr", net.JoinHostPort(local.Addr.String(), strconv.Itoa(int(local.Port))))
	return n, nil
}

// Join contacts the given gossip addresses until one of them responds or ctx
// ends, backing off between rounds from 250ms up to 5s. An empty list
// returns at once: the node waits for others to join it. Join logs its first
// failed round as a warning and the repeats at Debug, with a warning that
// counts them at most once a minute.
func (n *Node) Join(ctx context.Context, addrs []string) error {
	if len(addrs) == 0 {
		return nil
	}
	backoff := 250 * time.Millisecond
	var failures repeatLimiter
	for {
		count, err := n.ml.Join(addrs)
		if err == nil || count > 0 {
			n.logger.Info("joined cluster", "contacted", count, "members", n.ml.NumMembers())
			return nil
		}
		level := slog.LevelDebug
		attrs := []any{"join", addrs, "retry_in", backoff, "err", err}
		if warn, attempts, period := failures.failure(time.Now()); warn {
			level = slog.LevelWarn
			if attempts > 1 {
				attrs = append(attrs, "attempts", attempts, "period", period.Round(time.Second))
			}
		}
		n.logger.Log(ctx, level, "join failed, retrying", attrs...)
		select {
		case <-ctx.Done():
			return fmt.Errorf("membership: join %v: %w", addrs, ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// JoinOnce contacts the given gossip addresses once and returns an error
// when none of them responded.
func (n *Node) JoinOnce(addrs []string) error {
	count, err := n.ml.Join(addrs)
	if count > 0 {
		return nil
	}
	return fmt.Errorf("membership: join %v: %w", addrs, err)
}

// Members returns the nodes that are alive or suspect, the local one
// included. Nodes whose metadata cannot be decoded are left out.
func (n *Node) Members() []Member {
	var members []Member
	for _, m := range n.ml.Members() {
		meta, err := decodeMeta(m.Meta)
		if err != nil {
			continue
		}
		members = append(members, Member{Name: m.Name, Addr: m.Address(), Meta: meta, State: m.State})
	}
	return members
}

// Changed returns a channel that receives a value after the member list
// changed. Changes that happen while a value is pending are merged into it.
func (n *Node) Changed() <-chan struct{} {
	return n.changed
}

// AdvertiseHost returns the address other nodes use to reach this node.
func (n *Node) AdvertiseHost() string {
	return n.ml.LocalNode().Addr.String()
}

// GossipAddr returns this node's advertised gossip address, host:port.
func (n *Node) GossipAddr() string {
	return n.ml.LocalNode().Address()
}

// SetMeta replaces the metadata this node gossips and pushes it to the
// cluster, waiting up to timeout for the push.
func (n *Node) SetMeta(meta Meta, timeout time.Duration) error {
	b, err := meta.encode()
	if err != nil {
		return err
	}
	n.delegate.setMeta(b)
	if err := n.ml.UpdateNode(timeout); err != nil {
		return fmt.Errorf("membership: publish metadata: %w", err)
	}
	return nil
}

// Leave announces a graceful departure, waiting up to timeout for the
// message to spread, then stops the node. A second call does nothing.
func (n *Node) Leave(timeout time.Duration) error {
	var err error
	n.shutdownOnce.Do(func() {
		if leaveErr := n.ml.Leave(timeout); leaveErr != nil {
			err = fmt.Errorf("membership: leave: %w", leaveErr)
		}
		if stopErr := n.ml.Shutdown(); stopErr != nil && err == nil {
			err = fmt.Errorf("membership: shutdown: %w", stopErr)
		}
	})
	return err
}

// Shutdown stops the node without announcing it, as a crash would look to
// the others. A second call, or one after [Node.Leave], does nothing.
func (n *Node) Shutdown() error {
	var err error
	n.shutdownOnce.Do(func() {
		if stopErr := n.ml.Shutdown(); stopErr != nil {
			err = fmt.Errorf("membership: shutdown: %w", stopErr)
		}
	})
	return err
}

func (n *Node) notifyChanged() {
	select {
	case n.changed <- struct{}{}:
	default:
	}
}

// delegate carries this node's metadata and turns memberlist's events into
// log lines and change notifications.
type delegate struct {
	node *Node

	// mu guards meta.
	mu   sync.Mutex
	meta []byte
}

func (d *delegate) setMeta(b []byte) {
	d.mu.Lock()
	d.meta = b
	d.mu.Unlock()
}

func (d *delegate) NodeMeta(limit int) []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.meta) > limit {
		return nil
	}
	return d.meta
}

func (d *delegate) NotifyMsg([]byte)                           {}
func (d *delegate) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d *delegate) LocalState(join bool) []byte                { return nil }
func (d *delegate) MergeRemoteState(buf []byte, join bool)     {}

func (d *delegate) NotifyJoin(m *memberlist.Node) {
	d.node.logger.Info("member joined", "peer", m.Name, "addr", m.Address())
	d.node.notifyChanged()
}

func (d *delegate) NotifyLeave(m *memberlist.Node) {
	// memberlist reports a graceful leave and a death alike.
	d.node.logger.Info("member left or failed", "peer", m.Name, "addr", m.Address())
	d.node.notifyChanged()
}

func (d *delegate) NotifyUpdate(m *memberlist.Node) {
	d.node.logger.Debug("member updated", "peer", m.Name)
	d.node.notifyChanged()
}

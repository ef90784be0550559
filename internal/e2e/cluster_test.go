package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ringtrain/ringtrain/internal/coordinator"
	"github.com/ringtrain/ringtrain/internal/modelfile"
	"github.com/ringtrain/ringtrain/internal/worker"
)

// defaultTestTimeout bounds every cluster test.
const defaultTestTimeout = 5 * time.Minute

// mnistDir returns the folder of the MNIST files that tests read, or ""
// when RINGTRAIN_TEST_DATA is unset and the dataset's own download path
// (through the Go module proxy, into the user cache) is used.
func mnistDir(t *testing.T) string {
	t.Helper()
	root := os.Getenv("RINGTRAIN_TEST_DATA")
	if root == "" {
		return ""
	}
	// go test runs in the package folder; a relative path is meant from
	// the module root, two levels up.
	if !filepath.IsAbs(root) {
		if _, err := os.Stat(root); err != nil {
			root = filepath.Join("..", "..", root)
		}
	}
	return filepath.Join(root, "mnist")
}

func testLogger(t *testing.T) *slog.Logger {
	t.Helper()
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// quickConfig is a small MNIST job on loopback.
func quickConfig(t *testing.T) coordinator.Config {
	t.Helper()
	cfg := coordinator.DefaultConfig()
	cfg.DataDir = mnistDir(t)
	cfg.Epochs = 2
	cfg.TrainSamples = 6000
	cfg.TestSamples = 2000
	cfg.GRPCAddr = "127.0.0.1:0"
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.GossipAddr = "127.0.0.1:0"
	cfg.Logger = testLogger(t)
	return cfg
}

// startWorkers runs n workers joined to join until the test ends.
func startWorkers(t *testing.T, ctx context.Context, n int, join string) []*worker.Worker {
	t.Helper()
	var workers []*worker.Worker
	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	for i := range n {
		w, err := worker.New(worker.Config{
			Name:       "w" + strconv.Itoa(i+1),
			GRPCAddr:   "127.0.0.1:0",
			GossipAddr: "127.0.0.1:0",
			Join:       []string{join},
			Logger:     testLogger(t),
		})
		if err != nil {
			t.Fatalf("worker.New: %v", err)
		}
		workers = append(workers, w)
		wg.Go(func() { w.Run(ctx) })
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	return workers
}

func getStatus(t *testing.T, httpAddr string) (coordinator.Status, error) {
	t.Helper()
	var s coordinator.Status
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + httpAddr + "/status")
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&s)
	return s, err
}

func checkHistory(t *testing.T, s coordinator.Status, epochs, samples int, minAccuracy float64) {
	t.Helper()
	if len(s.History) != epochs {
		t.Fatalf("history has %d epochs, want %d", len(s.History), epochs)
	}
	for i, h := range s.History {
		if h.Epoch != i+1 {
			t.Errorf("history[%d].epoch = %d, want %d", i, h.Epoch, i+1)
		}
		if h.Samples != samples {
			t.Errorf("epoch %d used %d samples, want %d", h.Epoch, h.Samples, samples)
		}
		// An epoch whose train figures average no samples, after a
		// coordinator restart, has no loss to compare.
		compare := i > 0 && h.TrainSamples > 0 && s.History[i-1].TrainSamples > 0
		if compare && h.TrainLoss >= s.History[i-1].TrainLoss {
			t.Errorf("epoch %d train loss %.4f, not below epoch %d's %.4f", h.Epoch, h.TrainLoss, i, s.History[i-1].TrainLoss)
		}
	}
	if last := s.History[len(s.History)-1]; last.TestAccuracy < minAccuracy {
		t.Errorf("final test accuracy %.4f, want at least %.4f", last.TestAccuracy, minAccuracy)
	}
}

// checkStepCount fails the test unless the job committed exactly one step
// per global batch of 64 in each of its epochs of samples each, so that no
// committed step was lost or repeated.
func checkStepCount(t *testing.T, s coordinator.Status, epochs, samples int) {
	t.Helper()
	const batch = 64
	if want := uint64(epochs * ((samples + batch - 1) / batch)); s.Step != want {
		t.Errorf("step = %d, want %d: committed steps were lost or repeated", s.Step, want)
	}
}

func TestLocalClusterTrainsMNIST(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	dir := t.TempDir()
	cfg := quickConfig(t)
	cfg.MinWorkers = 3
	cfg.Output = filepath.Join(dir, "model.rtm")
	cfg.History = filepath.Join(dir, "history.json")
	coord, err := coordinator.New(cfg)
	if err != nil {
		t.Fatalf("coordinator.New: %v", err)
	}
	startWorkers(t, ctx, 3, coord.GossipAddr())

	// /status must answer while steps run.
	statusSeen := make(chan coordinator.Status, 1)
	go func() {
		for ctx.Err() == nil {
			if s, err := getStatus(t, coord.HTTPAddr()); err == nil && s.State == coordinator.StateTraining && s.Step > 0 {
				statusSeen <- s
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	if err := coord.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}

	select {
	case s := <-statusSeen:
		if len(s.Workers) != 3 {
			t.Errorf("status during training lists %d workers, want 3", len(s.Workers))
		}
	default:
		t.Error("/status never reported a training step while the job ran")
	}

	data, err := os.ReadFile(cfg.History)
	if err != nil {
		t.Fatalf("read history: %v", err)
	}
	var s coordinator.Status
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatalf("decode history: %v", err)
	}
	if s.State != coordinator.StateFinished {
		t.Errorf("final state = %q, want %q", s.State, coordinator.StateFinished)
	}
	if s.Generation < 1 {
		t.Errorf("generation = %d, want at least 1", s.Generation)
	}
	checkStepCount(t, s, 2, 6000)
	checkHistory(t, s, 2, 6000, 0.85)

	m, err := modelfile.Read(cfg.Output)
	if err != nil {
		t.Fatalf("read model: %v", err)
	}
	if m.Header.Fingerprint != s.Fingerprint {
		t.Errorf("model fingerprint %s, status fingerprint %s, want equal", m.Header.Fingerprint, s.Fingerprint)
	}
	if m.Header.Step != s.Step {
		t.Errorf("model step %d, status step %d, want equal", m.Header.Step, s.Step)
	}
}

func TestWorkersStartedBeforeCoordinator(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	gossip := freeAddr(t)
	startWorkers(t, ctx, 2, gossip)

	// The workers retry their join until the coordinator's gossip port opens.
	time.Sleep(time.Second)
	cfg := quickConfig(t)
	cfg.Epochs = 1
	cfg.TrainSamples = 1000
	cfg.TestSamples = 500
	cfg.MinWorkers = 2
	cfg.GossipAddr = gossip
	coord, err := coordinator.New(cfg)
	if err != nil {
		t.Fatalf("coordinator.New: %v", err)
	}
	if err := coord.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

func TestBadLabelStopsBeforeTraining(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeMNIST(t, dir, 20, map[int]uint8{7: 12})
	cfg := quickConfig(t)
	cfg.DataDir = dir
	cfg.TrainSamples, cfg.TestSamples = 0, 0
	coord, err := coordinator.New(cfg)
	if err != nil {
		t.Fatalf("coordinator.New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), defaultTestTimeout)
	defer cancel()
	err = coord.Run(ctx)
	if err == nil {
		t.Fatal("Run succeeded on a training label of 12, want an error")
	}
	if !strings.Contains(err.Error(), "12") {
		t.Errorf("Run error = %q, want it to name the label 12", err)
	}
}

// freeAddr returns a loopback address whose port was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	low, high := ephemeralPorts(t)
	// A port from the kernel's ephemeral range could be handed to another
	// socket bound to port 0 between this check and the bind that uses it,
	// so candidates come from below that range. memberlist binds TCP and
	// UDP on the same port, so both must be free.
	base, span := 20000, low-20000
	if span < 1000 {
		base, span = high+1, 65535-high
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(os.Getpid())))
	for range 200 {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(base+rng.IntN(span)))
		lis, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		conn, err := net.ListenPacket("udp", addr)
		lis.Close()
		if err != nil {
			continue
		}
		conn.Close()
		return addr
	}
	t.Fatalf("no free TCP and UDP port on 127.0.0.1 in [%d, %d)", base, base+span)
	return ""
}

// ephemeralPorts returns the kernel's range for ports bound as port 0, or
// Linux's default when the range cannot be read.
func ephemeralPorts(t *testing.T) (low, high int) {
	t.Helper()
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768, 60999
	}
	if _, err := fmt.Sscan(string(data), &low, &high); err != nil {
		t.Fatalf("parse ip_local_port_range %q: %v", data, err)
	}
	return low, high
}

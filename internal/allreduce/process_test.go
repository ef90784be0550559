package allreduce_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/ringtrain/ringtrain/internal/allreduce"
)

// memberProcessEnv makes the test binary run as a ring member process.
const memberProcessEnv = "RINGTRAIN_ALLREDUCE_TEST_MEMBER"

// memberOrder is what the test sends a member process on its stdin: the
// view to install and the length of the vector to sum.
type memberOrder struct {
	View   allreduce.View
	Length int
	// Repeated makes the member sum the vector once per "run K" line that
	// follows, K times, instead of once.
	Repeated bool
}

// runMemberProcess is the body of a member process. It prints "addr ADDR",
// reads a memberOrder line, installs the view, prints "ready" and sums a
// vector. Its own deadline ends it if the test does not.
func runMemberProcess(stdin io.Reader, stdout io.Writer) error {
	svc, err := allreduce.NewService(allreduce.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer svc.Close()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := grpc.NewServer(allreduce.ServerOptions()...)
	svc.Register(srv)
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()
	fmt.Fprintf(stdout, "addr %s\n", lis.Addr())

	in := bufio.NewReader(stdin)
	line, err := in.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("member process: read order: %w", err)
	}
	var order memberOrder
	if err := json.Unmarshal(line, &order); err != nil {
		return fmt.Errorf("member process: parse order %q: %w", line, err)
	}
	if err := svc.SetView(order.View); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "ready")

	data := randomFloat32s(rand.New(rand.NewPCG(1, 2)), 1, order.Length)[0]
	if order.Repeated {
		return runRepeated(svc, in, stdout, data)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = svc.AllReduceFloat32(ctx, 1, data)
	fmt.Fprintf(stdout, "done %v\n", err)
	return nil
}

// runRepeated reads "run K" lines until stdin ends. For each it sums data
// K times, then prints "done NS MALLOCS BYTES": the wall time in
// nanoseconds, and the heap allocations and bytes of the process meanwhile.
// The values are zeroed before each run, so that sums stay finite.
func runRepeated(svc *allreduce.Service, in *bufio.Reader, stdout io.Writer, data []float32) error {
	var sequence uint64
	for {
		line, err := in.ReadString('\n')
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("member process: read run order: %w", err)
		}
		var runs int
		if _, err := fmt.Sscanf(line, "run %d", &runs); err != nil {
			return fmt.Errorf("member process: parse run order %q: %w", line, err)
		}
		clear(data)

		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		for range runs {
			sequence++
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			err := svc.AllReduceFloat32(ctx, sequence, data)
			cancel()
			if err != nil {
				return fmt.Errorf("member process: sequence %d: %w", sequence, err)
			}
		}
		elapsed := time.Since(start)
		runtime.ReadMemStats(&after)
		fmt.Fprintf(stdout, "done %d %d %d\n", elapsed.Nanoseconds(),
			after.Mallocs-before.Mallocs, after.TotalAlloc-before.TotalAlloc)
	}
}

// startMemberProcess starts a member process and returns its address. The
// process is killed when the test ends.
func startMemberProcess(t testing.TB) (cmd *exec.Cmd, addr string, stdin io.Writer, stdout *bufio.Reader) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(exe)
	cmd.Env = append(os.Environ(), memberProcessEnv+"=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err = cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start member process: %v", err)
	}
	var waitOnce sync.Once
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		waitOnce.Do(func() { _ = cmd.Wait() })
		if stderr.Len() > 0 {
			t.Logf("member process stderr:\n%s", stderr.String())
		}
	})

	stdout = bufio.NewReader(out)
	line := readLine(t, stdout)
	addr, ok := strings.CutPrefix(line, "addr ")
	if !ok {
		t.Fatalf("member process printed %q, want its address", line)
	}
	return cmd, addr, stdin, stdout
}

func readLine(t testing.TB, r *bufio.Reader) string {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read from member process: %v", err)
	}
	return strings.TrimSuffix(line, "\n")
}

func TestKilledProcessFailsRing(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	checkGoroutines(t)
	// Ranks 0 and 2 run here, rank 1 in its own process.
	cmd, childAddr, childIn, childOut := startMemberProcess(t)
	survivors := []*member{
		startMember(t, allreduce.DefaultConfig()),
		startMember(t, allreduce.DefaultConfig()),
	}
	peers := []string{survivors[0].addr, childAddr, survivors[1].addr}
	for i, rank := range []int{0, 2} {
		if err := survivors[i].svc.SetView(allreduce.View{Generation: 1, Rank: rank, Peers: peers}); err != nil {
			t.Fatal(err)
		}
	}
	length := largeLength()
	order, err := json.Marshal(memberOrder{View: allreduce.View{Generation: 1, Rank: 1, Peers: peers}, Length: length})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Fprintf(childIn, "%s\n", order); err != nil {
		t.Fatal(err)
	}
	if line := readLine(t, childOut); line != "ready" {
		t.Fatalf("member process printed %q, want ready", line)
	}

	// Rank 2 receives only from rank 1, so its first frame shows that the
	// process has started sending. Rank 0 holds back what rank 1 needs for
	// step 1, so rank 1 cannot finish its reduce-scatter before the kill.
	reached0, release0 := pauseAtFirstFrame(t, survivors[0].svc)
	reached2, release2 := pauseAtFirstFrame(t, survivors[1].svc)
	inputs := randomFloat32s(rand.New(rand.NewPCG(1, 1)), 2, length)
	ctx, cancel := context.WithTimeout(t.Context(), defaultTestTimeout)
	defer cancel()
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, m := range survivors {
		wg.Go(func() { errs[i] = m.svc.AllReduceFloat32(ctx, 1, inputs[i]) })
	}
	<-reached0
	<-reached2

	if err := cmd.Process.Kill(); err != nil {
		t.Fatalf("kill member process: %v", err)
	}
	release0()
	release2()
	wg.Wait()

	for i, err := range errs {
		t.Logf("rank %d: %v", 2*i, err)
		if err == nil {
			t.Errorf("rank %d succeeded after rank 1 was killed, want an error", 2*i)
			continue
		}
		if errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("rank %d: error = %v, want a failure before the deadline", 2*i, err)
		}
	}
}

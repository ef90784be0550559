package allreduce_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/ringtrain/ringtrain/internal/allreduce"
)

// benchSizes are the vector sizes of the all-reduce benchmarks.
var benchSizes = []struct {
	name   string
	length int
}{
	{"340KB", 85_170},
	{"7.9MB", cifarParams},
	{"64MB", 16 << 20},
}

// BenchmarkAllReduceFloat32 sums vectors of the trainer's sizes: the
// mnist-mlp gradient (85,170 values, 340 KB), the cifar10-mlp gradient
// (1,977,510 values, 7.9 MB) and 64 MB. All N members run in this process
// and talk gRPC over loopback, so they share its CPUs, and the numbers
// measure encoding and protocol cost rather than a network.
//
// It reports bandwidth as nccl-tests defines it: algbw is the vector's
// bytes over the time of one collective, and busbw = algbw * 2(N-1)/N is
// the rate at which each member's link carries data.
func BenchmarkAllReduceFloat32(b *testing.B) {
	for _, size := range benchSizes {
		for _, n := range []int{2, 3, 4} {
			b.Run(fmt.Sprintf("%s/N=%d", size.name, n), func(b *testing.B) {
				members := startCluster(b, n, allreduce.DefaultConfig())
				// Float32 addition takes the same time for zeros as for
				// other normal values, and zeros stay finite over any
				// number of iterations.
				data := make([][]float32, n)
				for i := range data {
					data[i] = make([]float32, size.length)
				}
				bytes := int64(4 * size.length)
				b.SetBytes(bytes)
				b.ReportAllocs()

				ctx := context.Background()
				var sequence uint64
				for b.Loop() {
					sequence++
					for rank, err := range allReduceFloat32(ctx, members, sequence, data) {
						if err != nil {
							b.Fatalf("rank %d: %v", rank, err)
						}
					}
				}

				algbw := float64(bytes) * float64(b.N) / b.Elapsed().Seconds() / 1e9
				b.ReportMetric(algbw, "algbw-GB/s")
				b.ReportMetric(algbw*2*float64(n-1)/float64(n), "busbw-GB/s")
			})
		}
	}
}

// BenchmarkAllReduceProcesses sums the same vectors as
// [BenchmarkAllReduceFloat32], with each member in its own process, as a
// cluster runs. Each member process sums b.N times after one warm-up
// collective, and the time is that of the slowest member. Allocations are
// counted inside the member processes: member-allocs/op is their mean per
// collective and member.
func BenchmarkAllReduceProcesses(b *testing.B) {
	for _, size := range benchSizes {
		for _, n := range []int{2, 3, 4} {
			b.Run(fmt.Sprintf("%s/N=%d", size.name, n), func(b *testing.B) {
				procs := startMemberProcesses(b, n, size.length)
				procs.run(b, 1) // warm-up: connections, buffers, pools

				elapsed, mallocs, allocBytes := procs.run(b, b.N)
				bytes := int64(4 * size.length)
				perOp := float64(b.N) * float64(n)
				seconds := elapsed.Seconds() / float64(b.N)
				algbw := float64(bytes) / seconds / 1e9
				b.ReportMetric(seconds*1e9, "ns/op")
				b.ReportMetric(float64(bytes)/seconds/1e6, "MB/s")
				b.ReportMetric(algbw, "algbw-GB/s")
				b.ReportMetric(algbw*2*float64(n-1)/float64(n), "busbw-GB/s")
				b.ReportMetric(float64(mallocs)/perOp, "member-allocs/op")
				b.ReportMetric(float64(allocBytes)/perOp, "member-B/op")
			})
		}
	}
}

// memberProcesses is a ring of member processes that sum on order.
type memberProcesses struct {
	stdins  []io.Writer
	stdouts []*bufio.Reader
}

// startMemberProcesses starts a ring of n member processes that sum
// vectors of length values, and installs generation 1 on them.
func startMemberProcesses(b *testing.B, n, length int) *memberProcesses {
	b.Helper()
	procs := &memberProcesses{}
	peers := make([]string, n)
	for i := range n {
		_, addr, stdin, stdout := startMemberProcess(b)
		peers[i] = addr
		procs.stdins = append(procs.stdins, stdin)
		procs.stdouts = append(procs.stdouts, stdout)
	}
	for rank, stdin := range procs.stdins {
		view := allreduce.View{Generation: 1, Rank: rank, Peers: peers}
		order, err := json.Marshal(memberOrder{View: view, Length: length, Repeated: true})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := fmt.Fprintf(stdin, "%s\n", order); err != nil {
			b.Fatalf("send order to rank %d: %v", rank, err)
		}
	}
	for rank, stdout := range procs.stdouts {
		if line := readLine(b, stdout); line != "ready" {
			b.Fatalf("member process of rank %d printed %q, want ready", rank, line)
		}
	}
	return procs
}

// run makes every member sum runs times and returns the longest member's
// wall time and the allocations of all members together.
func (p *memberProcesses) run(b *testing.B, runs int) (elapsed time.Duration, mallocs, allocBytes uint64) {
	b.Helper()
	for rank, stdin := range p.stdins {
		if _, err := fmt.Fprintf(stdin, "run %d\n", runs); err != nil {
			b.Fatalf("send run order to rank %d: %v", rank, err)
		}
	}
	for rank, stdout := range p.stdouts {
		line := readLine(b, stdout)
		var ns int64
		var m, bytes uint64
		if _, err := fmt.Sscanf(line, "done %d %d %d", &ns, &m, &bytes); err != nil {
			b.Fatalf("member process of rank %d printed %q, want done and its figures", rank, line)
		}
		elapsed = max(elapsed, time.Duration(ns))
		mallocs += m
		allocBytes += bytes
	}
	return elapsed, mallocs, allocBytes
}

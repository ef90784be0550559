package allreduce_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/ringtrain/ringtrain/internal/allreduce"
)

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
	sizes := []struct {
		name   string
		length int
	}{
		{"340KB", 85_170},
		{"7.9MB", cifarParams},
		{"64MB", 16 << 20},
	}
	for _, size := range sizes {
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

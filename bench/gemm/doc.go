// Package gemm benchmarks float32 matrix products through blas32.Gemm at
// the shapes of the mnist-mlp and cifar10-mlp layers, so that the BLAS that
// ringtrain trains with can be compared with another BLAS at the same
// shapes. That BLAS is the one internal/nn installs, so
//
//	go test -bench Sgemm ./bench/gemm                 # gonum's pure-Go BLAS
//	go test -tags openblas -bench Sgemm ./bench/gemm  # OpenBLAS
//
// measure the two builds, and the output names the BLAS in a "blas:" line.
// It has no non-test code.
package gemm

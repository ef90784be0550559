// Package gemm benchmarks float32 matrix products through blas32.Gemm at
// the shapes of the mnist-mlp and cifar10-mlp layers, so that the BLAS that
// ringtrain trains with can be compared with another BLAS at the same
// shapes. It has no non-test code.
package gemm

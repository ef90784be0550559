// Package step benchmarks one training step of the preset networks on real
// MNIST and CIFAR-10 batches, drawn in a shuffled order as a training loop
// draws them. It complements the benchmark in internal/nn, whose random
// inputs have no zeros: gonum's Sgemm skips the zero entries of its left
// operand, and MNIST images are mostly zero bytes, so the input data changes
// the step's cost. It has no non-test code.
package step

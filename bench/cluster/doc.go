// Package cluster benchmarks a whole ringtrain job in one process: a
// coordinator and its workers on loopback with real gRPC and memberlist,
// as the coordinator command runs them with --local-workers. Its purpose is
// a CPU profile of the training loop that includes the RPCs and the ring.
// It has no non-test code.
package cluster

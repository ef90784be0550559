//go:build !race

package allreduce_test

// raceEnabled is true when the race detector is on, which makes the large
// cluster tests use smaller vectors.
const raceEnabled = false

// Package e2e holds end-to-end tests of ringtrain: a coordinator and its
// workers on loopback, with real gRPC and real memberlist, in one process or
// as separate processes of the built commands. It has no non-test code.
package e2e

// Package membership finds the nodes of a ringtrain cluster and notices when
// they fail, on top of hashicorp/memberlist.
//
// Every node gossips a small [Meta] record: its role, its name and the address
// of its gRPC server. The coordinator watches [Node.Events] to learn of
// workers joining and leaving; a worker watches it to find the coordinator.
// memberlist's own log lines are passed to slog with their severity kept.
package membership

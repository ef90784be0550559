package membership

import (
	"encoding/json"
	"fmt"
)

// Role is the part a node plays in the cluster.
type Role string

// The roles of a ringtrain cluster.
const (
	RoleCoordinator Role = "coordinator"
	RoleWorker      Role = "worker"
)

// Meta is the record every node gossips about itself. It is encoded as JSON
// in memberlist's node metadata, which holds at most 512 bytes.
type Meta struct {
	Role Role `json:"role"`
	// GRPCAddress is the host:port other nodes dial to reach this node.
	GRPCAddress string `json:"grpc"`
	// Incarnation is chosen at process start, so a restarted process under
	// the same name is told apart from the one it replaces.
	Incarnation uint64 `json:"inc,omitempty"`
}

func (m Meta) encode() ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("membership: encode metadata: %w", err)
	}
	if len(b) > 512 {
		return nil, fmt.Errorf("membership: metadata is %d bytes, memberlist carries at most 512: shorten the gRPC address", len(b))
	}
	return b, nil
}

func decodeMeta(b []byte) (Meta, error) {
	var m Meta
	if len(b) == 0 {
		return m, fmt.Errorf("membership: node has no metadata")
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("membership: decode metadata %q: %w", b, err)
	}
	return m, nil
}

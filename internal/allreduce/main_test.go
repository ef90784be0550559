package allreduce_test

import (
	"fmt"
	"os"
	"testing"
)

// TestMain runs the test binary as a ring member in its own process when
// memberProcessEnv is set, for tests that kill a member.
func TestMain(m *testing.M) {
	if os.Getenv(memberProcessEnv) != "" {
		if err := runMemberProcess(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		return
	}
	m.Run()
}

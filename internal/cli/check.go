package cli

import (
	"flag"
	"fmt"
	"time"
)

// MinProbeInterval is the shortest --probe-interval the commands accept.
// Much shorter intervals keep a core busy even on a lone node.
const MinProbeInterval = 10 * time.Millisecond

// Check is a range check of one flag's value.
type Check struct {
	// Flag is the flag's name, without dashes.
	Flag string
	// OK reports whether the value is in range.
	OK bool
	// Want describes the valid range, as in "1 or more".
	Want string
}

// Require returns the check that the value of flag is in range when ok is
// true, with want describing the range.
func Require(flag string, ok bool, want string) Check {
	return Check{Flag: flag, OK: ok, Want: want}
}

// CheckFlags returns an error for the first check that fails on a flag in
// sources, as [ApplyEnvSources] returns them. The error names the flag or
// the environment variable that set the value. Flags left at their
// defaults are not checked.
func CheckFlags(fs *flag.FlagSet, sources map[string]string, checks ...Check) error {
	for _, check := range checks {
		source, ok := sources[check.Flag]
		if !ok || check.OK {
			continue
		}
		value := fs.Lookup(check.Flag).Value.String()
		if value == "" {
			value = `""`
		}
		if source == EnvName(check.Flag) {
			return fmt.Errorf("invalid %s=%s: want %s", source, value, check.Want)
		}
		return fmt.Errorf("invalid %s %s: want %s", source, value, check.Want)
	}
	return nil
}

// MembershipChecks returns the range checks of --probe-interval and
// --suspicion-mult, which both commands take.
func MembershipChecks(probeInterval time.Duration, suspicionMult int) []Check {
	return []Check{
		Require("probe-interval", probeInterval >= MinProbeInterval, "at least "+MinProbeInterval.String()),
		Require("suspicion-mult", suspicionMult >= 1, "1 or more"),
	}
}

package membership

import "time"

// repeatWarnInterval is the minimum time between two warnings about one
// failure that keeps recurring, such as a join address that does not
// resolve. A worker whose coordinator has gone, as after a job ends, joins
// again every few seconds, so the repeats in between are logged at Debug
// and counted in the next warning.
const repeatWarnInterval = time.Minute

// repeatLimiter decides which failures of a recurring series are logged as
// warnings. It is not safe for concurrent use.
type repeatLimiter struct {
	warned  time.Time // time of the last warning
	last    time.Time // time of the last failure, zero before the first
	repeats int       // failures since the last warning
}

// failure records a failure at now and reports whether to log it as a
// warning rather than at Debug. That holds for the first failure after a
// quiet repeatWarnInterval, and for the first one a repeatWarnInterval or
// more after the last warning. In the second case failure also returns the
// failures since that warning, this one included, and the time since it.
func (l *repeatLimiter) failure(now time.Time) (warn bool, attempts int, period time.Duration) {
	if l.last.IsZero() || now.Sub(l.last) >= repeatWarnInterval {
		*l = repeatLimiter{warned: now, last: now}
		return true, 1, 0
	}
	l.last = now
	l.repeats++
	if now.Sub(l.warned) < repeatWarnInterval {
		return false, 0, 0
	}
	attempts, period = l.repeats, now.Sub(l.warned)
	l.warned, l.repeats = now, 0
	return true, attempts, period
}

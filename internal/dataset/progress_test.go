package dataset

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// fakeClock returns times that advance by step on every call.
func fakeClock(step time.Duration) func() time.Time {
	t := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time {
		t = t.Add(step)
		return t
	}
}

func TestProgressBarKnownLength(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	// Each clock read advances 1 s: one at creation, then one per Write.
	bar := newProgressBar(&out, "file.gz", 2<<20, fakeClock(time.Second))
	bar.Write(make([]byte, 1<<20))
	want := "\rfile.gz [==========>         ] 1.0 MiB / 2.0 MiB  50%  1.0 MiB/s   "
	if got := out.String(); got != want {
		t.Errorf("after half:\n got %q\nwant %q", got, want)
	}

	bar.Write(make([]byte, 1<<20))
	bar.finish()
	last := out.String()[strings.LastIndex(out.String(), "\r"):]
	want = "\rfile.gz [====================] 2.0 MiB / 2.0 MiB 100%  682.7 KiB/s   \n"
	if last != want {
		t.Errorf("after finish:\n got %q\nwant %q", last, want)
	}
}

func TestProgressBarUnknownLength(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	bar := newProgressBar(&out, "module.zip", -1, fakeClock(2*time.Second))
	bar.Write(make([]byte, 3000))
	if want := "\rmodule.zip 2.9 KiB  1.5 KiB/s   "; out.String() != want {
		t.Errorf("line = %q, want %q", out.String(), want)
	}
}

func TestProgressBarThrottlesRedraws(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	bar := newProgressBar(&out, "f", 1000, fakeClock(time.Millisecond))
	for range 100 {
		bar.Write(make([]byte, 10))
	}
	if n := strings.Count(out.String(), "\r"); n != 0 {
		t.Errorf("%d redraws within 100 ms, want 0 (interval %v)", n, redrawInterval)
	}
	bar.finish()
	if !strings.HasSuffix(out.String(), "100%  9.7 KiB/s   \n") {
		t.Errorf("final line = %q, want 100%% and the rate", out.String())
	}
}

func TestFormatBytes(t *testing.T) {
	t.Parallel()
	for n, want := range map[float64]string{
		0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 9912422: "9.5 MiB",
		173466368: "165.4 MiB", 3 << 40: "3.0 TiB", 5 << 50: "5120.0 TiB",
	} {
		if got := formatBytes(n); got != want {
			t.Errorf("formatBytes(%v) = %q, want %q", n, got, want)
		}
	}
}

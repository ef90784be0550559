package progress_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ringtrain/ringtrain/internal/progress"
)

// fakeClock is a clock that moves only when the test advances it.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func newTestBar(enabled bool) (*progress.Bar, *bytes.Buffer, *fakeClock) {
	var out bytes.Buffer
	clock := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	return progress.NewWithClock(&out, enabled, clock.now), &out, clock
}

// frames splits the output into what each redraw wrote, dropping the
// carriage return that starts each one.
func frames(out string) []string {
	parts := strings.Split(out, "\r")
	return parts[1:]
}

func TestBarDrawsEpoch(t *testing.T) {
	t.Parallel()
	b, out, clock := newTestBar(true)
	b.Start(2, 10, 60000)
	clock.advance(2 * time.Second)
	b.Update(15000, 0.15024)
	clock.advance(6 * time.Second)
	b.Update(60000, 0.1)
	b.Finish()

	want := []string{
		"epoch 2/10 [>                   ] 0/60000 0/s --:-- left loss -",
		"epoch 2/10 [=====>              ] 15000/60000 7500/s 0:06 left loss 0.1502",
		"epoch 2/10 [====================] 60000/60000 7500/s 0:00 left loss 0.1000",
		// Two spaces blank the end of the longer line before it.
		"epoch 2/10 [====================] 60000/60000 7500/s in 0:08 loss 0.1000  \n",
	}
	if diff := cmp.Diff(want, frames(out.String())); diff != "" {
		t.Errorf("frames (-want +got):\n%s", diff)
	}
}

func TestBarThrottlesRedraws(t *testing.T) {
	t.Parallel()
	b, out, clock := newTestBar(true)
	b.Start(1, 1, 1000)
	for done := 1; done <= 50; done++ {
		clock.advance(10 * time.Millisecond)
		b.Update(done, 1)
	}
	// 500 ms of updates every 10 ms redraw once per 100 ms.
	if got, want := len(frames(out.String())), 1+5; got != want {
		t.Errorf("%d frames for 50 updates over 500 ms, want %d:\n%q", got, want, out.String())
	}
}

func TestBarPadsShorterLine(t *testing.T) {
	t.Parallel()
	b, out, clock := newTestBar(true)
	b.Start(1, 1, 100000)
	clock.advance(time.Second)
	b.Update(99999, 12.5)
	first := frames(out.String())[1]
	b.Finish() // "in 0:01" is shorter than "0:00 left"
	last := frames(out.String())[2]
	if len(last) != len(first)+1 { // the same width, and the newline
		t.Errorf("final frame %q is %d bytes, want %d to cover %q", last, len(last), len(first)+1, first)
	}
	if !strings.HasSuffix(last, " \n") {
		t.Errorf("final frame %q does not end in padding and a newline", last)
	}
}

func TestBarStartEndsOpenLine(t *testing.T) {
	t.Parallel()
	b, out, _ := newTestBar(true)
	b.Start(1, 2, 10)
	b.Start(2, 2, 10)
	b.Finish()
	if got := strings.Count(out.String(), "\n"); got != 2 {
		t.Errorf("output has %d newlines, want 2, one per epoch:\n%q", got, out.String())
	}
}

func TestBarIgnoresCallsOutsideEpoch(t *testing.T) {
	t.Parallel()
	b, out, clock := newTestBar(true)
	b.Update(5, 1)
	b.Finish()
	b.Start(1, 1, 10)
	b.Finish()
	n := out.Len()
	clock.advance(time.Second)
	b.Update(10, 1)
	b.Finish()
	if out.Len() != n {
		t.Errorf("calls after Finish wrote %q", out.String()[n:])
	}
	if strings.Count(out.String(), "\r") != 2 {
		t.Errorf("output %q, want only the epoch's start and finish frames", out.String())
	}
}

func TestBarDisabledDrawsNothing(t *testing.T) {
	t.Parallel()
	b, out, clock := newTestBar(false)
	b.Start(1, 1, 10)
	clock.advance(time.Second)
	b.Update(5, 1)
	b.Finish()
	if out.Len() != 0 {
		t.Errorf("disabled bar wrote %q", out.String())
	}

	var nilBar *progress.Bar
	nilBar.Start(1, 1, 10)
	nilBar.Update(1, 1)
	nilBar.Finish()
}

func TestBarLongDurations(t *testing.T) {
	t.Parallel()
	b, out, clock := newTestBar(true)
	b.Start(1, 1, 1000000)
	clock.advance(100 * time.Second)
	b.Update(10000, 2)
	got := frames(out.String())[1]
	// 990,000 samples at 100 per second.
	if !strings.Contains(got, " 100/s 2:45:00 left ") {
		t.Errorf("frame %q, want a rate of 100/s and 2:45:00 left", got)
	}
	if len(got) >= 80 {
		t.Errorf("frame %q is %d columns, want under 80", got, len(got))
	}
}

func TestBarConcurrentUpdates(t *testing.T) {
	t.Parallel()
	var out syncBuffer
	b := progress.New(&out, true)
	b.Start(1, 1, 4000)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				b.Update(g*1000+i, 0.5)
			}
		})
	}
	wg.Wait()
	b.Finish()
	if !strings.HasSuffix(out.String(), "\n") {
		t.Errorf("output %q does not end the line", out.String())
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func TestIsTerminalFalseForFiles(t *testing.T) {
	t.Parallel()
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if progress.IsTerminal(f) {
		t.Error("IsTerminal(regular file) = true, want false")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if progress.IsTerminal(w) {
		t.Error("IsTerminal(pipe) = true, want false")
	}
	if progress.IsTerminal(nil) {
		t.Error("IsTerminal(nil) = true, want false")
	}
}

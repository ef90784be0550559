package dataset

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func sha256File(name string, data []byte) remoteFile {
	sum := sha256.Sum256(data)
	return remoteFile{name: name, sum: checksum{"sha256", hex.EncodeToString(sum[:])}}
}

// fileServer serves files by base name on loopback and counts requests.
type fileServer struct {
	*httptest.Server
	mu       sync.Mutex
	requests []string
}

func newFileServer(t *testing.T, files map[string][]byte) *fileServer {
	t.Helper()
	s := &fileServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, r.URL.Path)
		s.mu.Unlock()
		data, ok := files[path.Base(r.URL.Path)]
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, r.URL.Path, time.Time{}, bytes.NewReader(data))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *fileServer) requestCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

func testLoader(t *testing.T, opt Options) *loader {
	t.Helper()
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return newLoader(opt)
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestFetchFilesDownloadsIntoCache(t *testing.T) {
	t.Parallel()
	alpha, beta := []byte("alpha contents"), bytes.Repeat([]byte("beta "), 5000)
	srv := newFileServer(t, map[string][]byte{"alpha.gz": alpha, "beta.gz": beta})
	files := []remoteFile{sha256File("alpha.gz", alpha), sha256File("beta.gz", beta)}
	dir := t.TempDir()
	var progress bytes.Buffer
	l := testLoader(t, Options{Progress: &progress})

	missing, attempts, err := l.fetchFiles(t.Context(), dir, files, []string{srv.URL + "/data/"})
	if err != nil || len(missing) != 0 || len(attempts) != 0 {
		t.Fatalf("fetchFiles = %v, %v, %v, want nothing missing", missing, attempts, err)
	}
	if diff := cmp.Diff([]string{"alpha.gz", "beta.gz"}, dirNames(t, dir)); diff != "" {
		t.Errorf("cache folder (-want +got), no temporary files expected:\n%s", diff)
	}
	got, err := os.ReadFile(filepath.Join(dir, "beta.gz"))
	if err != nil || !bytes.Equal(got, beta) {
		t.Errorf("cached beta.gz = %d bytes (err %v), want the %d served bytes", len(got), err, len(beta))
	}
	for _, s := range []string{"beta.gz [====================]", "24.4 KiB / 24.4 KiB", "100%", "/s"} {
		if !strings.Contains(progress.String(), s) {
			t.Errorf("progress output lacks %q:\n%s", s, progress.String())
		}
	}
}

func TestFetchFilesRejectsChecksumMismatch(t *testing.T) {
	t.Parallel()
	served := []byte("tampered contents")
	srv := newFileServer(t, map[string][]byte{"alpha.gz": served})
	f := sha256File("alpha.gz", []byte("published contents"))
	dir := t.TempDir()

	missing, attempts, err := testLoader(t, Options{}).fetchFiles(t.Context(), dir, []remoteFile{f}, []string{srv.URL})
	if err != nil || len(missing) != 1 || len(attempts) != 1 {
		t.Fatalf("fetchFiles = %v, %v, %v, want alpha.gz missing after one attempt", missing, attempts, err)
	}
	actual := sha256.Sum256(served)
	want := &ChecksumError{URL: srv.URL + "/alpha.gz", Algorithm: "sha256",
		Expected: f.sum.hex, Actual: hex.EncodeToString(actual[:])}
	var got *ChecksumError
	if !errors.As(attempts[0], &got) {
		t.Fatalf("attempt error = %v, want a *ChecksumError", attempts[0])
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ChecksumError (-want +got):\n%s", diff)
	}
	for _, s := range []string{srv.URL + "/alpha.gz", "expected " + f.sum.hex, "got " + want.Actual} {
		if !strings.Contains(got.Error(), s) {
			t.Errorf("error %q lacks %q", got, s)
		}
	}
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("cache folder contains %q after the mismatch, want nothing", names)
	}
}

func TestFetchFilesCacheHitMakesNoRequest(t *testing.T) {
	t.Parallel()
	data := []byte("cached contents")
	srv := newFileServer(t, map[string][]byte{"alpha.gz": data})
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "alpha.gz"), data, 0o644); err != nil {
		t.Fatal(err)
	}

	missing, _, err := testLoader(t, Options{}).fetchFiles(t.Context(), dir,
		[]remoteFile{sha256File("alpha.gz", data)}, []string{srv.URL})
	if err != nil || len(missing) != 0 {
		t.Fatalf("fetchFiles = %v, %v, want nothing missing", missing, err)
	}
	if n := srv.requestCount(); n != 0 {
		t.Errorf("fetchFiles made %d requests with a valid cache, want 0", n)
	}
}

func TestFetchFilesReplacesCorruptCache(t *testing.T) {
	t.Parallel()
	data := []byte("good contents")
	srv := newFileServer(t, map[string][]byte{"alpha.gz": data})
	dir := t.TempDir()
	cached := filepath.Join(dir, "alpha.gz")
	if err := os.WriteFile(cached, []byte("bit rot"), 0o644); err != nil {
		t.Fatal(err)
	}

	missing, _, err := testLoader(t, Options{}).fetchFiles(t.Context(), dir,
		[]remoteFile{sha256File("alpha.gz", data)}, []string{srv.URL})
	if err != nil || len(missing) != 0 {
		t.Fatalf("fetchFiles = %v, %v, want nothing missing", missing, err)
	}
	if got, _ := os.ReadFile(cached); !bytes.Equal(got, data) {
		t.Errorf("cached file = %q, want %q", got, data)
	}
}

func TestFetchFilesTriesNextBaseURL(t *testing.T) {
	t.Parallel()
	a, b := []byte("file a"), []byte("file b")
	dead := httptest.NewServer(nil)
	dead.Close()
	empty := newFileServer(t, nil)
	good := newFileServer(t, map[string][]byte{"a.gz": a, "b.gz": b})
	files := []remoteFile{sha256File("a.gz", a), sha256File("b.gz", b)}
	dir := t.TempDir()

	missing, attempts, err := testLoader(t, Options{}).fetchFiles(t.Context(), dir, files,
		[]string{dead.URL, empty.URL, good.URL})
	if err != nil || len(missing) != 0 {
		t.Fatalf("fetchFiles = %v, %v, want nothing missing", missing, err)
	}
	// The unreachable server costs one attempt, not one per file, and the
	// server without the files returns 404 for each.
	if len(attempts) != 3 {
		t.Errorf("attempts = %q, want 3 (1 connection failure, 2 not found)", attempts)
	}
	var se *statusError
	if len(attempts) == 3 && (errors.As(attempts[0], &se) || !errors.As(attempts[1], &se)) {
		t.Errorf("attempts = %q, want a connection error, then 404s", attempts)
	}
	if diff := cmp.Diff([]string{"a.gz", "b.gz"}, dirNames(t, dir)); diff != "" {
		t.Errorf("cache folder (-want +got):\n%s", diff)
	}
}

func TestFetchFilesStopsOnCancel(t *testing.T) {
	t.Parallel()
	srv := newFileServer(t, map[string][]byte{"a.gz": []byte("a")})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, _, err := testLoader(t, Options{}).fetchFiles(ctx, t.TempDir(),
		[]remoteFile{sha256File("a.gz", []byte("a"))}, []string{srv.URL})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("fetchFiles error = %v, want context.Canceled", err)
	}
}

func TestWriteVerifiedMD5(t *testing.T) {
	t.Parallel()
	data := []byte("cifar archive stand-in")
	sum := md5.Sum(data)
	f := remoteFile{name: "archive.tar.gz", sum: checksum{"md5", hex.EncodeToString(sum[:])}}
	dir := t.TempDir()
	n, err := writeVerified(bytes.NewReader(data), dir, f, "test source", nil)
	if err != nil || n != int64(len(data)) {
		t.Fatalf("writeVerified = %d, %v, want %d, nil", n, err, len(data))
	}
	if err := verifyFile(filepath.Join(dir, f.name), f.sum); err != nil {
		t.Errorf("verifyFile after writeVerified: %v", err)
	}
	if info, err := os.Stat(filepath.Join(dir, f.name)); err != nil || info.Mode().Perm() != 0o644 {
		t.Errorf("cached file mode = %v (err %v), want 0644", info.Mode().Perm(), err)
	}
}

func TestWriteVerifiedRemovesTempOnReadError(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	broken := io.MultiReader(strings.NewReader("partial"), errReader{})
	_, err := writeVerified(broken, dir, sha256File("x.gz", nil), "http://127.0.0.1/x.gz", nil)
	if err == nil || !strings.Contains(err.Error(), "http://127.0.0.1/x.gz") {
		t.Errorf("writeVerified error = %v, want one naming the source", err)
	}
	if names := dirNames(t, dir); len(names) != 0 {
		t.Errorf("folder contains %q after a failed copy, want nothing", names)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestOpenRejectsNonOKStatus(t *testing.T) {
	t.Parallel()
	srv := newFileServer(t, nil)
	_, _, err := testLoader(t, Options{}).open(t.Context(), srv.URL+"/missing.gz")
	var se *statusError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "404 Not Found") {
		t.Errorf("open error = %v, want a 404 statusError", err)
	}
}

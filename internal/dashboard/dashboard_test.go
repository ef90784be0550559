package dashboard_test

import (
	"bytes"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/ringtrain/ringtrain/internal/dashboard"
)

// get serves one request through h and returns the response and its body.
func get(t *testing.T, h http.Handler, method, target string) (*http.Response, []byte) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	res := rec.Result()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, target, err)
	}
	return res, body
}

func TestHandlerServesPage(t *testing.T) {
	t.Parallel()
	res, body := get(t, dashboard.Handler(), http.MethodGet, "/")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET / status = %d, want 200", res.StatusCode)
	}
	if got, want := res.Header.Get("Content-Type"), "text/html; charset=utf-8"; got != want {
		t.Errorf("GET / Content-Type = %q, want %q", got, want)
	}
	if got := res.Header.Get("Content-Security-Policy"); !strings.Contains(got, "default-src 'self'") {
		t.Errorf("GET / Content-Security-Policy = %q, want default-src 'self'", got)
	}
	for _, id := range []string{"loss-chart", "accuracy-chart", "step-chart", "workers-body", "events", "job-fields"} {
		if !bytes.Contains(body, []byte(`id="`+id+`"`)) {
			t.Errorf("GET / has no element with id %q", id)
		}
	}
}

// assetFiles returns the slash-separated paths of the files under
// web/assets, which the package embeds.
func assetFiles(t *testing.T) []string {
	t.Helper()
	var paths []string
	root := filepath.Join("web", "assets")
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel("web", p)
		paths = append(paths, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		t.Fatalf("list %s: %v", root, err)
	}
	if len(paths) == 0 {
		t.Fatalf("%s holds no files", root)
	}
	return paths
}

func TestHandlerServesEveryAsset(t *testing.T) {
	t.Parallel()
	h := dashboard.Handler()
	for _, p := range assetFiles(t) {
		t.Run(p, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join("web", filepath.FromSlash(p)))
			if err != nil {
				t.Fatal(err)
			}
			res, body := get(t, h, http.MethodGet, "/"+p)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("GET /%s status = %d, want 200", p, res.StatusCode)
			}
			if !bytes.Equal(body, want) {
				t.Errorf("GET /%s body differs from the file", p)
			}
			wantType := mime.TypeByExtension(path.Ext(p))
			if got := res.Header.Get("Content-Type"); wantType == "" || got != wantType {
				t.Errorf("GET /%s Content-Type = %q, want %q", p, got, wantType)
			}
			if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("GET /%s X-Content-Type-Options = %q, want nosniff", p, got)
			}
		})
	}
}

func TestHandlerRejectsOtherRequests(t *testing.T) {
	t.Parallel()
	h := dashboard.Handler()
	tests := []struct {
		name   string
		method string
		target string
		want   int
	}{
		{name: "unknown page", method: http.MethodGet, target: "/index.htm", want: http.StatusNotFound},
		{name: "unknown asset", method: http.MethodGet, target: "/assets/missing.js", want: http.StatusNotFound},
		{name: "asset listing", method: http.MethodGet, target: "/assets/", want: http.StatusNotFound},
		{name: "post page", method: http.MethodPost, target: "/", want: http.StatusMethodNotAllowed},
		{name: "head page", method: http.MethodHead, target: "/", want: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, _ := get(t, h, tt.method, tt.target)
			if res.StatusCode != tt.want {
				t.Errorf("%s %s status = %d, want %d", tt.method, tt.target, res.StatusCode, tt.want)
			}
		})
	}
}

// references returns every src and href in the HTML document.
func references(t *testing.T, doc []byte) []string {
	t.Helper()
	var refs []string
	z := html.NewTokenizer(bytes.NewReader(doc))
	for {
		switch z.Next() {
		case html.ErrorToken:
			if z.Err() != io.EOF {
				t.Fatalf("parse the page: %v", z.Err())
			}
			return refs
		case html.StartTagToken, html.SelfClosingTagToken:
			for {
				key, value, more := z.TagAttr()
				if k := string(key); k == "src" || k == "href" {
					refs = append(refs, string(value))
				}
				if !more {
					break
				}
			}
		}
	}
}

// TestPageReferencesOnlyEmbeddedAssets resolves every src and href of the
// page against its URL, at the root and under a path prefix, and fetches
// each through the handler.
func TestPageReferencesOnlyEmbeddedAssets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		prefix string
	}{
		{name: "root", prefix: ""},
		{name: "prefix", prefix: "/jobs/ringtrain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mux := http.NewServeMux()
			mux.Handle(tt.prefix+"/", http.StripPrefix(tt.prefix, dashboard.Handler()))
			page := "http://coordinator.test" + tt.prefix + "/"
			res, body := get(t, mux, http.MethodGet, page)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("GET %s status = %d, want 200", page, res.StatusCode)
			}
			base, err := url.Parse(page)
			if err != nil {
				t.Fatal(err)
			}
			refs := references(t, body)
			if len(refs) == 0 {
				t.Fatal("the page references no assets")
			}
			for _, ref := range refs {
				u, err := base.Parse(ref)
				if err != nil {
					t.Errorf("reference %q: %v", ref, err)
					continue
				}
				if u.Host != base.Host || u.Scheme != base.Scheme {
					t.Errorf("reference %q leaves the coordinator for %s://%s", ref, u.Scheme, u.Host)
					continue
				}
				if res, _ := get(t, mux, http.MethodGet, u.String()); res.StatusCode != http.StatusOK {
					t.Errorf("reference %q: GET %s status = %d, want 200", ref, u, res.StatusCode)
				}
			}
		})
	}
}

// TestAssetsNameNoOtherHost checks the scripts and styles for URLs of other
// hosts, which the page must not load. The SVG namespace is a name, not a
// location, and is allowed.
func TestAssetsNameNoOtherHost(t *testing.T) {
	t.Parallel()
	files := append(assetFiles(t), "index.html")
	for _, p := range files {
		data, err := os.ReadFile(filepath.Join("web", filepath.FromSlash(p)))
		if err != nil {
			t.Fatal(err)
		}
		text := strings.ReplaceAll(string(data), "http://www.w3.org/2000/svg", "")
		for _, scheme := range []string{"http://", "https://", "url("} {
			if i := strings.Index(text, scheme); i >= 0 {
				t.Errorf("%s contains %q at byte %d", p, scheme, i)
			}
		}
	}
}

// Package dashboard serves the coordinator's web dashboard: one page that
// polls the status document and charts train and test loss and accuracy per
// epoch, the loss per step, the workers and the job's events. The page, its
// scripts, style sheet and icon are embedded in the binary and load nothing
// from other hosts.
//
// The page fetches "status" relative to its own URL, so [Handler] must be
// mounted in the same directory as the status document: at / next to
// /status, or under a prefix such as /ringtrain/ next to /ringtrain/status.
package dashboard

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed web
var files embed.FS

// contentSecurityPolicy lets the page load scripts, styles, images and data
// from its own origin only, so that a reference to any other host fails.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"

// Handler returns the handler that serves the dashboard page at / and its
// assets under /assets/. Other paths get 404 Not Found, and methods other
// than GET and HEAD get 405 Method Not Allowed.
func Handler() http.Handler {
	web, err := fs.Sub(files, "web")
	if err != nil {
		// fs.Sub fails only on an invalid path, and "web" is a constant.
		panic("dashboard: " + err.Error())
	}
	page, err := fs.ReadFile(web, "index.html")
	if err != nil {
		panic("dashboard: the embedded page is missing: " + err.Error())
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		setHeaders(w)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(page)
	})
	assets := http.FileServerFS(web)
	mux.HandleFunc("GET /assets/", func(w http.ResponseWriter, r *http.Request) {
		// The file server would list a directory, and the dashboard serves
		// no listings.
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		setHeaders(w)
		assets.ServeHTTP(w, r)
	})
	return mux
}

// setHeaders sets the headers that the page and every asset carry. The
// embedded files have no modification time to revalidate against, and
// no-cache makes a browser fetch them again after the binary changes.
func setHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
}

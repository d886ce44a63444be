package server

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// webFiles serves the web folder (static/) under /web/ for go-app, and
// app.wasm precompressed. go-app would serve app.wasm raw: 8 MB instead of
// 1.6 MB brotli on every cold start.
//
// It is go-app's ResourceResolver and, being an http.Handler, also serves the
// files: app.Handler hands every /web/ request to it.
type webFiles struct {
	dir     string
	version string
	files   http.Handler
	wasm    []wasmVariant // best encoding first
	rawSize int64
	// writeTimeout is the server's WriteTimeout, which app.wasm's download
	// gets on top of the time its bytes take at slowLink.
	writeTimeout time.Duration
}

// slowLink is the slowest link app.wasm's download is given time for, in
// bytes per second (128 kbit/s): 1.6 MB of brotli in 100 s, where the
// server's WriteTimeout alone would cut it.
const slowLink = 16 << 10

type wasmVariant struct {
	encoding string // "br", "gzip" or "" for identity
	path     string
}

func newWebFiles(dir, version string) (*webFiles, error) {
	raw := filepath.Join(dir, "app.wasm")
	fi, err := os.Stat(raw)
	if err != nil {
		return nil, fmt.Errorf("web folder %s has no app.wasm (run `make build` first): %w", dir, err)
	}
	w := &webFiles{dir: dir, version: version, files: http.StripPrefix("/web", http.FileServer(http.Dir(dir))), rawSize: fi.Size()}
	for _, v := range []wasmVariant{{"br", raw + ".br"}, {"gzip", raw + ".gz"}} {
		cfi, err := os.Stat(v.path)
		if err != nil {
			continue
		}
		if cfi.ModTime().Before(fi.ModTime()) {
			return nil, fmt.Errorf("%s is older than app.wasm: rebuild it (make build)", v.path)
		}
		w.wasm = append(w.wasm, v)
	}
	w.wasm = append(w.wasm, wasmVariant{"", raw})
	return w, nil
}

// Resolve maps /web/ locations to themselves, as app.LocalDir("") does.
func (w *webFiles) Resolve(location string) string {
	if location == "" || location == "/" {
		return "/"
	}
	if strings.HasPrefix(location, "http://") || strings.HasPrefix(location, "https://") {
		return location
	}
	if location == "web" || location == "/web" || strings.HasPrefix(location, "/web/") || strings.HasPrefix(location, "web/") {
		return "/" + strings.Trim(location, "/")
	}
	return location
}

func (w *webFiles) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/web/app.wasm" {
		w.files.ServeHTTP(rw, r)
		return
	}
	v := w.pick(r.Header.Get("Accept-Encoding"))
	f, err := os.Open(v.path)
	if err != nil {
		http.Error(rw, "app.wasm is missing", http.StatusInternalServerError)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		http.Error(rw, "app.wasm is unreadable", http.StatusInternalServerError)
		return
	}
	h := rw.Header()
	h.Set("Content-Type", "application/wasm")
	h.Add("Vary", "Accept-Encoding")
	// go-app's loader reports progress against the uncompressed size.
	h.Set(wasmLengthHeader, strconv.FormatInt(w.rawSize, 10))
	etag := w.version
	if v.encoding != "" {
		h.Set("Content-Encoding", v.encoding)
		etag += "-" + v.encoding
	}
	h.Set("ETag", strconv.Quote(etag))
	if w.writeTimeout > 0 { // an error only means a writer without deadlines (tests)
		_ = http.NewResponseController(rw).SetWriteDeadline(time.Now().Add(w.writeTimeout + time.Duration(fi.Size())*time.Second/slowLink))
	}
	http.ServeContent(rw, r, "", fi.ModTime().Truncate(time.Second), f)
}

// wasmPreload starts app.wasm's download as the browser reads the page's
// head. Without it the download waits for go-app's app.js, a deferred script
// that runs only once the page is parsed and uPlot's script has run: 1 s
// after navigation on a phone over fast 4G (bench/results/2026-12-06-coldvisit.md).
// app.js's fetch takes the preloaded response: a preload "as fetch" with
// crossorigin (anonymous) matches fetch()'s default cors mode and
// same-origin credentials.
const wasmPreload = `<link rel="preload" href="/web/app.wasm" as="fetch" type="application/wasm" crossorigin="anonymous">`

// wasmLengthHeader carries app.wasm's uncompressed size to go-app's loader.
const wasmLengthHeader = "X-Wasm-Content-Length"

// pick returns the best variant the client accepts.
func (w *webFiles) pick(acceptEncoding string) wasmVariant {
	accepted := map[string]bool{}
	for _, part := range strings.Split(acceptEncoding, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if k, val, ok := strings.Cut(strings.TrimSpace(params), "="); ok && strings.TrimSpace(k) == "q" {
			if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
				q = f
			}
		}
		if q > 0 {
			accepted[strings.ToLower(strings.TrimSpace(name))] = true
		}
	}
	for _, v := range w.wasm {
		if v.encoding == "" || accepted[v.encoding] {
			return v
		}
	}
	return w.wasm[len(w.wasm)-1]
}

// wasmFetchCall is where go-app's app.js fetches app.wasm for
// WebAssembly.instantiateStreaming: through fetchWithProgress, which copies
// every chunk of the 9 MB (uncompressed) body through a JavaScript stream to
// count it for the loading label. On a phone that copying held the main
// thread for about a second of the download, and it kept the compiler from
// reading the network's stream directly. streamingAppJS replaces the call
// with a plain fetch.
const wasmFetchCall = `fetchWithProgress("/web/app.wasm", showProgress)`

// streamingAppJS serves go-app's app.js with app.wasm fetched straight into
// the streaming compiler (see wasmFetchCall), and everything else as
// pwa serves it. It fails if go-app's app.js no longer holds the call, so a
// go-app update cannot silently undo it.
func streamingAppJS(pwa http.Handler) (http.Handler, error) {
	req, err := http.NewRequest(http.MethodGet, "/app.js", nil)
	if err != nil {
		return nil, err
	}
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	pwa.ServeHTTP(rec, req)
	if rec.status != http.StatusOK || !bytes.Contains(rec.body.Bytes(), []byte(wasmFetchCall)) {
		return nil, fmt.Errorf("go-app's app.js (status %d) has no %s to replace: check streamingAppJS against the go-app version", rec.status, wasmFetchCall)
	}
	body := bytes.Replace(rec.body.Bytes(), []byte(wasmFetchCall), []byte(`fetch("/web/app.wasm")`), 1)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method != http.MethodGet && r.Method != http.MethodHead) || (r.URL.Path != "/app.js" && r.URL.Path != "/goapp.js") {
			pwa.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		for k, v := range rec.header {
			h[k] = v
		}
		h.Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		if r.Method == http.MethodGet {
			_, _ = w.Write(body)
		}
	}), nil
}

// recorder keeps one response of go-app's handler.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(status int)      { r.status = status }

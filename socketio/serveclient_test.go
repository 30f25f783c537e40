//go:build !duplex_noclientbundle

package socketio

import (
	"compress/gzip"
	"compress/zlib"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/duplexio/duplex/engineio"
	"github.com/duplexio/duplex/internal/leakcheck"
	"github.com/duplexio/duplex/socketio/clientdist"
)

// bundleGet sends a request for path with the given headers, with no
// transparent decompression, and returns the response and its body as
// sent.
func bundleGet(t *testing.T, ts *testServer, method, path string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, ts.hs.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, body
}

// TestServeClientFiles checks that every file of the bundle is served at
// the endpoint's path with the reference's headers, whatever the method.
func TestServeClientFiles(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	for _, name := range clientdist.Names {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			res, body := bundleGet(t, ts, method, "/socket.io/"+name+"?v=1", nil)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("%s %s: status %d", method, name, res.StatusCode)
			}
			want, _ := clientdist.File(name)
			if string(body) != want {
				t.Errorf("%s %s: body of %d bytes, want the file's %d", method, name, len(body), len(want))
			}
			ct := "application/javascript; charset=utf-8"
			if strings.HasSuffix(name, ".map") {
				ct = "application/json; charset=utf-8"
			}
			for k, v := range map[string]string{
				"Content-Type":     ct,
				"Cache-Control":    "public, max-age=0",
				"ETag":             `"4.8.4"`,
				"Content-Encoding": "",
				"Vary":             "",
			} {
				if got := res.Header.Get(k); got != v {
					t.Errorf("%s %s: %s = %q, want %q", method, name, k, got, v)
				}
			}
		}
	}
}

// TestServeClientNotModified checks the answer to If-None-Match: 304 with
// no body for the ETag, weak or not, and the file for anything else, as
// the reference compares the header's whole value.
func TestServeClientNotModified(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	for tag, status := range map[string]int{
		`"4.8.4"`:        http.StatusNotModified,
		`W/"4.8.4"`:      http.StatusNotModified,
		`"4.8.3"`:        http.StatusOK,
		`4.8.4`:          http.StatusOK,
		`"4.8.4", "4.8"`: http.StatusOK,
		`*`:              http.StatusOK,
	} {
		res, body := bundleGet(t, ts, http.MethodGet, "/socket.io/socket.io.min.js", map[string]string{"If-None-Match": tag})
		if res.StatusCode != status {
			t.Errorf("If-None-Match %s: status %d, want %d", tag, res.StatusCode, status)
		}
		if status == http.StatusNotModified && (len(body) != 0 || res.Header.Get("ETag") != "" || res.Header.Get("Cache-Control") != "") {
			t.Errorf("If-None-Match %s: 304 with a body of %d bytes or headers %v", tag, len(body), res.Header)
		}
	}
}

// TestServeClientEncoding checks the choice between gzip, deflate and
// none against the reference's negotiation, and that the compressed body
// is the file.
func TestServeClientEncoding(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	want, _ := clientdist.File("socket.io.js")
	for header, enc := range map[string]string{
		"":                                  "",
		"gzip":                              "gzip",
		"deflate":                           "deflate",
		"gzip, deflate, br, zstd":           "gzip", // browsers
		"deflate, gzip, br, zstd":           "deflate",
		"GZIP":                              "gzip",
		"*":                                 "gzip", // the reference sends br
		"gzip;q=0.5, deflate":               "deflate",
		"gzip;q=0.5, deflate;q=0.5":         "gzip",
		"deflate;q=0.5, gzip;q=0.5":         "deflate",
		"gzip;q=0, *":                       "deflate", // the reference sends br
		"*;q=0, deflate":                    "deflate",
		"gzip;q=0, deflate;q=0":             "",
		"gzip;q=abc":                        "",
		"gzip;q=0.5x, deflate;q=0.4":        "gzip",
		"identity":                          "",
		"br":                                "", // the reference sends br
		"br, deflate":                       "deflate",
		"x-gzip":                            "",
		"gzip;level=1;q=0.2, deflate;q=0.1": "gzip",
	} {
		res, body := bundleGet(t, ts, http.MethodGet, "/socket.io/socket.io.js", map[string]string{"Accept-Encoding": header})
		if got := res.Header.Get("Content-Encoding"); got != enc {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q, want %q", header, got, enc)
			continue
		}
		var r io.Reader = strings.NewReader(string(body))
		var err error
		switch enc {
		case "gzip":
			r, err = gzip.NewReader(r)
		case "deflate":
			r, err = zlib.NewReader(r)
		}
		if err != nil {
			t.Fatalf("Accept-Encoding %q: %v", header, err)
		}
		got, err := io.ReadAll(r)
		if err != nil || string(got) != want {
			t.Errorf("Accept-Encoding %q: body decodes to %d bytes (err %v), want the file's %d", header, len(got), err, len(want))
		}
	}
}

// TestServeClientFallsThrough checks that names the reference does not
// serve, and every name with DisableServeClient, go to the engine as they
// would without the bundle.
func TestServeClientFallsThrough(t *testing.T) {
	defer leakcheck.Check(t)()
	ts := newTestServer(t, nil)
	defer ts.Close()
	off := newTestServer(t, &Options{DisableServeClient: true})
	defer off.Close()
	check := func(ts *testServer, path string) {
		t.Helper()
		res, body := bundleGet(t, ts, http.MethodGet, path, nil)
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "Transport unknown") {
			t.Errorf("%s: %d %q, want the engine's 400 Transport unknown", path, res.StatusCode, body)
		}
	}
	for _, path := range []string{
		"/socket.io/socket.io.slim.js",
		"/socket.io/sub/socket.io.js",
		"/socket.io/socket%2Eio.js",
		"/socket.io/LICENSE",
		"/socket.io/",
	} {
		check(ts, path)
	}
	for _, name := range clientdist.Names {
		check(off, "/socket.io/"+name)
	}
}

// TestServeClientPathAndCORS checks that the bundle follows Path and the
// CORS options, preflight included.
func TestServeClientPathAndCORS(t *testing.T) {
	defer leakcheck.Check(t)()
	srv := NewServer(&Options{Options: engineio.Options{
		Path: "/rt",
		CORS: &engineio.CORSOptions{Origins: []string{"https://app.example"}},
	}})
	mux := http.NewServeMux()
	mux.Handle("/", srv) // every path reaches the server
	ts := &testServer{t: t, io: srv, hs: httptest.NewServer(mux)}
	defer ts.Close()
	res, body := bundleGet(t, ts, http.MethodGet, "/rt/socket.io.min.js", map[string]string{"Origin": "https://app.example"})
	if want, _ := clientdist.File("socket.io.min.js"); res.StatusCode != http.StatusOK || string(body) != want {
		t.Fatalf("GET /rt/socket.io.min.js: status %d, %d bytes", res.StatusCode, len(body))
	}
	if got := res.Header.Get("Access-Control-Allow-Origin"); got != "https://app.example" {
		t.Errorf("Access-Control-Allow-Origin = %q", got)
	}
	res, body = bundleGet(t, ts, http.MethodOptions, "/rt/socket.io.min.js", map[string]string{
		"Origin": "https://app.example", "Access-Control-Request-Method": "GET",
	})
	if res.StatusCode != http.StatusNoContent || len(body) != 0 || res.Header.Get("Access-Control-Allow-Methods") == "" {
		t.Errorf("preflight: %d, %d bytes, headers %v", res.StatusCode, len(body), res.Header)
	}
	if res, _ := bundleGet(t, ts, http.MethodGet, "/socket.io/socket.io.min.js", nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /socket.io/socket.io.min.js with Path /rt: status %d, want 404", res.StatusCode)
	}
}

// TestJSParseFloat checks the q values read as JavaScript's parseFloat
// reads them (the values JavaScript gives, written out).
func TestJSParseFloat(t *testing.T) {
	nan := math.NaN()
	for s, want := range map[string]float64{
		"1": 1, " 0.5": 0.5, "1e3": 1000, "1e": 1, "1e+": 1, "1.5E-1": 0.15,
		".5": 0.5, "5.": 5, "abc": nan, "": nan, "-0": 0, "Infinity": math.Inf(1),
		"-Infinityx": math.Inf(-1), "+.5e-1x": 0.05, "0x10": 0, "1_0": 1, ".": nan,
		" \t2": 2, "1e400": math.Inf(1),
	} {
		got := jsParseFloat(s)
		if got != want && !(math.IsNaN(got) && math.IsNaN(want)) {
			t.Errorf("jsParseFloat(%q) = %v, want %v", s, got, want)
		}
	}
}

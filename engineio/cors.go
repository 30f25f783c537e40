package engineio

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// CORSOptions sets the Cross-Origin Resource Sharing headers, as the `cors`
// middleware of the reference server does.
type CORSOptions struct {
	// Origins lists the allowed origins, such as "https://example.com". The
	// single entry "*" allows any origin and is sent as "*".
	Origins []string
	// AllowOrigin, when set, decides instead of Origins; an allowed origin
	// is echoed back.
	AllowOrigin func(origin string, r *http.Request) bool
	// Credentials sends Access-Control-Allow-Credentials: true.
	Credentials bool
	// Methods answers preflights; default GET, HEAD, PUT, PATCH, POST,
	// DELETE.
	Methods []string
	// AllowedHeaders answers preflights; by default the request's
	// Access-Control-Request-Headers are echoed.
	AllowedHeaders []string
	// ExposedHeaders lists headers the page may read.
	ExposedHeaders []string
	// MaxAge lets browsers cache a preflight's answer.
	MaxAge time.Duration
}

var defaultCORSMethods = "GET,HEAD,PUT,PATCH,POST,DELETE"

// allowedOrigin is the Access-Control-Allow-Origin value for r, or "".
func (c *CORSOptions) allowedOrigin(r *http.Request) (value string, vary bool) {
	origin := r.Header.Get("Origin")
	if c.AllowOrigin != nil {
		if origin != "" && c.AllowOrigin(origin, r) {
			return origin, true
		}
		return "", true
	}
	if len(c.Origins) == 1 && c.Origins[0] == "*" {
		return "*", false
	}
	if origin != "" && slices.Contains(c.Origins, origin) {
		return origin, true
	}
	return "", true
}

// Allows reports whether the request's origin is allowed. A request with
// no Origin header is allowed.
func (c *CORSOptions) Allows(r *http.Request) bool {
	if r.Header.Get("Origin") == "" {
		return true
	}
	v, _ := c.allowedOrigin(r)
	return v != ""
}

// Apply writes the CORS headers for r and answers it when it is a
// preflight request, in which case it returns true. The server applies it
// to each of its requests; handlers that answer beside it with the same
// policy call it too (socketio does for the client bundle).
func (c *CORSOptions) Apply(w http.ResponseWriter, r *http.Request) bool { return c.apply(w, r) }

// apply writes the CORS headers and answers a preflight request, in which
// case it returns true.
func (c *CORSOptions) apply(w http.ResponseWriter, r *http.Request) bool {
	h := w.Header()
	origin, vary := c.allowedOrigin(r)
	if origin != "" {
		h.Set("Access-Control-Allow-Origin", origin)
	}
	if vary {
		h.Add("Vary", "Origin")
	}
	if c.Credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	if r.Method != http.MethodOptions {
		if len(c.ExposedHeaders) > 0 {
			h.Set("Access-Control-Expose-Headers", strings.Join(c.ExposedHeaders, ","))
		}
		return false
	}
	methods := defaultCORSMethods
	if len(c.Methods) > 0 {
		methods = strings.Join(c.Methods, ",")
	}
	h.Set("Access-Control-Allow-Methods", methods)
	if len(c.AllowedHeaders) > 0 {
		h.Set("Access-Control-Allow-Headers", strings.Join(c.AllowedHeaders, ","))
	} else if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
		h.Set("Access-Control-Allow-Headers", req)
		h.Add("Vary", "Access-Control-Request-Headers")
	}
	if c.MaxAge > 0 {
		h.Set("Access-Control-Max-Age", strconv.Itoa(int(c.MaxAge/time.Second)))
	}
	if len(c.ExposedHeaders) > 0 {
		h.Set("Access-Control-Expose-Headers", strings.Join(c.ExposedHeaders, ","))
	}
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusNoContent)
	return true
}

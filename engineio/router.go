package engineio

import (
	"net/http"
	"net/url"

	"github.com/duplexio/duplex/internal/netaddr"
	"github.com/duplexio/duplex/transport"
	"github.com/gorilla/websocket"
)

// serve routes a request that passed the path and CORS checks.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	q := lastValues(r.URL.Query())
	upgrade := websocket.IsWebSocketUpgrade(r)
	if q.Get("sid") == "" && s.opts.MaxHandshakesPerAddress > 0 {
		addr := netaddr.Host(r.RemoteAddr)
		if !s.enterHandshake(addr) {
			s.refuse(w, s.requestError(r, CodeForbidden, "Too many handshakes in progress from this address"), upgrade)
			return
		}
		defer s.leaveHandshake(addr)
	}
	sess, rerr := s.verify(r, q, upgrade)
	if rerr != nil {
		if rerr.Code == CodeUnknownSID && s.cluster != nil && s.cluster.forward(w, r, q, upgrade) {
			return // served for the node that holds the session
		}
		s.refuse(w, rerr, upgrade)
		return
	}
	if sess == nil {
		s.handshake(w, r, q, upgrade)
		return
	}
	switch {
	case upgrade:
		sess.serveUpgrade(w, r)
	case q.Get("transport") != transport.NamePolling:
		// A plain request for a WebSocket session.
		s.refuse(w, s.requestError(r, CodeBadRequest, ""), false)
	case r.Method == http.MethodGet:
		sess.servePoll(w, r)
	case r.Method == http.MethodPost:
		sess.servePost(w, r)
	default:
		w.WriteHeader(http.StatusInternalServerError)
	}
}

// verify applies the reference server's checks, in its order. It returns
// the session named by the request's sid, or nil for a handshake.
func (s *Server) verify(r *http.Request, q url.Values, upgrade bool) (*Session, *RequestError) {
	kind := transportNamed(q.Get("transport"))
	if !s.allowsTransport(kind) || (upgrade && kind != TransportWebSocket) {
		return nil, s.requestError(r, CodeUnknownTransport, "")
	}
	if !validHeaderValue(r.Header.Get("Origin")) {
		return nil, s.requestError(r, CodeBadRequest, "")
	}
	if upgrade && s.opts.CORS != nil && !s.opts.CORS.Allows(r) {
		// Browsers apply CORS to polling, not to WebSocket: without this
		// check any site could open a WebSocket with the user's cookies
		// (cross-site WebSocket hijacking). The reference lets it through.
		return nil, s.requestError(r, CodeForbidden, "")
	}
	if sid := q.Get("sid"); sid != "" {
		sess := s.Session(sid)
		if sess == nil {
			return nil, s.requestError(r, CodeUnknownSID, "")
		}
		if !upgrade && sess.Transport() != kind {
			return nil, s.requestError(r, CodeBadRequest, "")
		}
		if protocolOf(q) != sess.protocol {
			return nil, s.requestError(r, CodeBadRequest, "")
		}
		return sess, nil
	}
	if r.Method != http.MethodGet {
		return nil, s.requestError(r, CodeBadHandshakeMethod, "")
	}
	if kind == TransportWebSocket && !upgrade {
		return nil, s.requestError(r, CodeBadRequest, "")
	}
	if s.opts.AllowRequest != nil {
		if err := s.opts.AllowRequest(r); err != nil {
			return nil, s.requestError(r, CodeForbidden, err.Error())
		}
	}
	return nil, nil
}

// lastValues keeps the last value of each repeated query parameter, the
// one the reference server reads: "sid=a&sid=b" names session b.
func lastValues(q url.Values) url.Values {
	for k, v := range q {
		if len(v) > 1 {
			q[k] = v[len(v)-1:]
		}
	}
	return q
}

// validHeaderValue reports whether v holds only characters allowed in an
// HTTP field value (the reference checks the Origin header this way).
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

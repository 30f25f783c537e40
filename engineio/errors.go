package engineio

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
)

// Reason says why a session closed. The values are the reference server's
// texts, which the Socket.IO layer passes on as disconnect reasons.
type Reason string

// The close reasons of a session.
const (
	// ReasonTransportClose: the client closed the connection, or sent a
	// close packet.
	ReasonTransportClose Reason = "transport close"
	// ReasonTransportError: the connection failed or the client broke the
	// transport's rules (overlapping polls, a bad WebSocket frame).
	ReasonTransportError Reason = "transport error"
	// ReasonPingTimeout: the client did not answer a ping in time.
	ReasonPingTimeout Reason = "ping timeout"
	// ReasonParseError: the client sent a packet that cannot be decoded.
	ReasonParseError Reason = "parse error"
	// ReasonForcedClose: the server closed the session (Session.Close).
	ReasonForcedClose Reason = "forced close"
	// ReasonServerShutdown: the server is shutting down (Server.Shutdown).
	ReasonServerShutdown Reason = "server shutting down"
	// ReasonSlowConsumer: the client did not read its packets fast enough
	// and its outgoing queue went over Options.MaxQueueBytes.
	ReasonSlowConsumer Reason = "slow consumer"
)

// Sentinel errors.
var (
	// ErrDropped is returned by Session.Send for a volatile packet that
	// was dropped because the client could not take it at once.
	ErrDropped = errors.New("engineio: volatile packet dropped")
	// ErrSessionClosed is returned by Session.Send once the session is
	// closing or closed.
	ErrSessionClosed = errors.New("engineio: session closed")
	// ErrSlowConsumer is returned by Session.Send when the packet would take
	// the session's outgoing queue over its limit; the session is closed.
	ErrSlowConsumer = errors.New("engineio: slow consumer")
	// ErrServerClosed is returned by Shutdown when called more than once.
	ErrServerClosed = errors.New("engineio: server closed")
)

// ErrorCode is an Engine.IO HTTP error code, sent in the JSON body of a
// refused request.
type ErrorCode int

// The error codes of the reference server.
const (
	CodeUnknownTransport           ErrorCode = 0
	CodeUnknownSID                 ErrorCode = 1
	CodeBadHandshakeMethod         ErrorCode = 2
	CodeBadRequest                 ErrorCode = 3
	CodeForbidden                  ErrorCode = 4
	CodeUnsupportedProtocolVersion ErrorCode = 5
)

var errorMessages = [...]string{
	CodeUnknownTransport:           "Transport unknown",
	CodeUnknownSID:                 "Session ID unknown",
	CodeBadHandshakeMethod:         "Bad handshake method",
	CodeBadRequest:                 "Bad request",
	CodeForbidden:                  "Forbidden",
	CodeUnsupportedProtocolVersion: "Unsupported protocol version",
}

// String is the reference's message for the code.
func (c ErrorCode) String() string {
	if c >= 0 && int(c) < len(errorMessages) {
		return errorMessages[c]
	}
	return "ErrorCode(" + strconv.Itoa(int(c)) + ")"
}

// Status is the HTTP status the code is sent with: 403 for Forbidden, 400
// for the rest.
func (c ErrorCode) Status() int {
	if c == CodeForbidden {
		return http.StatusForbidden
	}
	return http.StatusBadRequest
}

// RequestError describes a refused request; it is what Options.OnError
// receives.
type RequestError struct {
	Code    ErrorCode
	Message string // the code's message, or AllowRequest's error text
	Request *http.Request
}

// Error returns the error's message.
func (e *RequestError) Error() string { return "engineio: " + e.Message }

// writeError answers a refused polling request with the reference's JSON
// body, or a refused WebSocket handshake with its plain-text 400.
func writeError(w http.ResponseWriter, e *RequestError, upgrade bool) {
	h := w.Header()
	if upgrade {
		h.Set("Connection", "close")
		h.Set("Content-Type", "text/html")
		h.Set("Content-Length", strconv.Itoa(len(e.Message)))
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(e.Message))
		return
	}
	body, _ := json.Marshal(struct {
		Code    ErrorCode `json:"code"`
		Message string    `json:"message"`
	}{e.Code, e.Message})
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.Code.Status())
	_, _ = w.Write(body)
}

// requestError describes a refused request; an empty message stands for
// the code's own.
func (s *Server) requestError(r *http.Request, code ErrorCode, message string) *RequestError {
	if message == "" {
		message = code.String()
	}
	return &RequestError{Code: code, Message: message, Request: r}
}

// refuse answers a refused request (see writeError), after logging it and
// telling Options.OnError.
func (s *Server) refuse(w http.ResponseWriter, e *RequestError, upgrade bool) {
	s.log.Debug("engineio: request refused", "code", int(e.Code), "message", e.Message, "url", e.Request.URL.String())
	if s.opts.OnError != nil {
		s.opts.OnError(e)
	}
	writeError(w, e, upgrade)
}

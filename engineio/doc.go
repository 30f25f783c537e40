// Package engineio is an Engine.IO server (protocol v4, and v3 as an
// option): the layer under Socket.IO that keeps a session open with a
// client over HTTP long-polling, WebSocket, or polling upgraded to
// WebSocket, with heartbeats and clean close reasons.
//
// Server is an http.Handler. Each client gets a Session; the layer above
// implements Handler to hear of sessions opening, their messages, and their
// closing, and calls Session.Send and Session.Close. Package socketio is
// that layer; nothing here knows about namespaces or events.
//
//	srv := engineio.NewServer(engineio.HandlerFuncs{
//		Message: func(s *engineio.Session, data []byte, binary bool) {
//			s.Send(data, binary) // echo
//		},
//	}, nil)
//	http.Handle("/engine.io/", srv)
package engineio

// Package clientdist holds the browser bundles of the official JavaScript
// client, socket.io-client, that package socketio serves beside its
// endpoint as the reference server does (its serveClient option): the
// files of the npm package's dist/ directory, unchanged, with their source
// maps. They are the client's work, under its MIT license (dist/LICENSE);
// refresh.sh copies them from npm for the release named by Version.
//
// Building with the tag duplex_noclientbundle leaves the files out of the
// binary (about 1.2 MB): File then finds nothing and the server serves no
// bundle.
package clientdist

// Version is the socket.io-client release the files come from. It is the
// one place the release is pinned: refresh.sh reads it.
const Version = "4.8.4"

// Names lists the files served, the names the reference server serves.
var Names = []string{
	"socket.io.esm.min.js",
	"socket.io.esm.min.js.map",
	"socket.io.js",
	"socket.io.js.map",
	"socket.io.min.js",
	"socket.io.min.js.map",
	"socket.io.msgpack.min.js",
	"socket.io.msgpack.min.js.map",
}

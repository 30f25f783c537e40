//go:build !duplex_noclientbundle

package clientdist

import _ "embed"

var (
	//go:embed dist/socket.io.esm.min.js
	esmMin string
	//go:embed dist/socket.io.esm.min.js.map
	esmMinMap string
	//go:embed dist/socket.io.js
	full string
	//go:embed dist/socket.io.js.map
	fullMap string
	//go:embed dist/socket.io.min.js
	minJS string
	//go:embed dist/socket.io.min.js.map
	minJSMap string
	//go:embed dist/socket.io.msgpack.min.js
	msgpackMin string
	//go:embed dist/socket.io.msgpack.min.js.map
	msgpackMinMap string
)

// File returns the content of the file called name, one of Names, and
// whether there is one.
func File(name string) (string, bool) {
	switch name {
	case "socket.io.esm.min.js":
		return esmMin, true
	case "socket.io.esm.min.js.map":
		return esmMinMap, true
	case "socket.io.js":
		return full, true
	case "socket.io.js.map":
		return fullMap, true
	case "socket.io.min.js":
		return minJS, true
	case "socket.io.min.js.map":
		return minJSMap, true
	case "socket.io.msgpack.min.js":
		return msgpackMin, true
	case "socket.io.msgpack.min.js.map":
		return msgpackMinMap, true
	}
	return "", false
}

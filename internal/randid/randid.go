// Package randid makes the random identifiers of the module: session and
// socket ids, private session ids, adapter and request ids. They come from
// crypto/rand, so that no client can guess another's.
package randid

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
)

// New returns 20 URL-safe base64 characters from 15 random bytes: the
// shape of the reference's session and socket ids.
func New() string {
	var b [15]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Hex returns n random hexadecimal characters.
func Hex(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// Package netaddr holds what the packages of the module need to know of a
// network address.
package netaddr

import "net"

// Host is the host of a host:port address (an IP for a TCP client, as the
// reference's handshake.address is); addr itself when it has no port.
func Host(addr string) string {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		return host
	}
	return addr
}

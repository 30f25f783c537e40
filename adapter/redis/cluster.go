package redisadapter

// isResponse reports whether an op answers a request (and so goes to the
// requesting node only).
func isResponse(k opKind) bool {
	switch k {
	case opFetchResponse, opSSEResponse, opClientCount, opAck:
		return true
	}
	return false
}

package load

// SetFreeConnections makes Import believe the server has n free
// connections, until restore is called.
func SetFreeConnections(n int) (restore func()) {
	old := freeConnections
	freeConnections = func(server) int { return n }
	return func() { freeConnections = old }
}

package sqlite

// SetLogGenIDs sets the size of a generation of logship IDs for a test,
// and returns a function restoring it.
func SetLogGenIDs(n int64) (restore func()) {
	old := logGenIDs
	logGenIDs = n
	return func() { logGenIDs = old }
}

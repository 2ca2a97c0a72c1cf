package ledger

// Waiting returns the batches queued or in the group running.
func (d *Durable) Waiting() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.queue) + d.taken
}

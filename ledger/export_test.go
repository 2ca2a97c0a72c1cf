package ledger

// Queued returns the batches waiting for a group.
func (d *Durable) Queued() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.queue)
}

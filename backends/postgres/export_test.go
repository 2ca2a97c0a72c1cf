package postgres

// AppendLabels exposes appendLabels to the fuzz test.
var AppendLabels = appendLabels

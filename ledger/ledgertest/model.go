package ledgertest

import "testing"

func testModel(t *testing.T, nb NewBackend) {}

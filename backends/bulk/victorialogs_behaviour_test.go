package bulk_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt/backends/bulk"
	"github.com/hms-platform/mgmt/logship"
)

// What the package doc says of VictoriaLogs, checked on the real server.
func TestVictoriaLogsBehaviour(t *testing.T) {
	ctx := context.Background()
	base := vl.URL(t)

	t.Run("IndexInPathRefused", func(t *testing.T) {
		resp, err := http.Post(base+"/insert/elasticsearch/logs/_bulk?_msg_field=message", "application/x-ndjson",
			strings.NewReader("{\"create\":{}}\n{\"message\":\"x\"}\n"))
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.GreaterOrEqual(t, resp.StatusCode, 400, "%s %s", resp.Status, body)
	})

	t.Run("IDIgnoredResendStoredTwice", func(t *testing.T) {
		sink, err := bulk.New(bulk.Options{Kind: bulk.VictoriaLogs, URL: base})
		require.NoError(t, err)
		r := logship.Record{ID: logship.NewID(), Time: time.Now(), Level: "INFO", Message: "twice", Kind: logship.KindLog}
		for range 2 {
			res, err := sink.Send(ctx, []logship.Record{r})
			require.NoError(t, err)
			require.Equal(t, logship.Delivered, res[0].Outcome)
		}
		assert.Len(t, vl.Query(ctx, t, fmt.Sprintf("id:%q", r.ID)), 2)
	})

	t.Run("OldEntryDroppedWith200", func(t *testing.T) {
		sink, err := bulk.New(bulk.Options{Kind: bulk.VictoriaLogs, URL: base})
		require.NoError(t, err)
		r := logship.Record{ID: logship.NewID(), Time: time.Now().AddDate(0, 0, -30), Level: "INFO", Message: "old", Kind: logship.KindLog}
		res, err := sink.Send(ctx, []logship.Record{r})
		require.NoError(t, err)
		assert.Equal(t, logship.Delivered, res[0].Outcome, "a 200: confirmed per request only")
		assert.Empty(t, vl.Query(ctx, t, fmt.Sprintf("id:%q", r.ID)), "yet not stored (past the 7-day retention)")
	})

	t.Run("LongLineFailsTheRequest", func(t *testing.T) {
		// VictoriaLogs itself: a document line over its
		// -insert.maxLineSizeBytes (256 KiB) fails the request with a 400.
		long := fmt.Sprintf("{\"create\":{}}\n{\"message\":%q}\n{\"create\":{}}\n{\"message\":\"short\"}\n", strings.Repeat("x", 300<<10))
		resp, err := http.Post(base+"/insert/elasticsearch/_bulk?_msg_field=message", "application/x-ndjson", strings.NewReader(long))
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s", body)

		// So the sink refuses such a record itself, alone, and sends the
		// others.
		sink, err := bulk.New(bulk.Options{Kind: bulk.VictoriaLogs, URL: base})
		require.NoError(t, err)
		big := logship.Record{ID: logship.NewID(), Time: time.Now(), Level: "INFO", Message: strings.Repeat("x", 300<<10), Kind: logship.KindLog}
		short := logship.Record{ID: logship.NewID(), Time: time.Now(), Level: "INFO", Message: "short", Kind: logship.KindLog}
		res, err := sink.Send(ctx, []logship.Record{big, short})
		require.NoError(t, err)
		assert.Equal(t, logship.Rejected, res[0].Outcome)
		assert.Contains(t, res[0].Reason, "over the sink's bound of 262143")
		assert.Equal(t, logship.Delivered, res[1].Outcome)
		assert.Len(t, vl.Query(ctx, t, fmt.Sprintf("id:%q", short.ID)), 1)
	})
}

package scalerhttp_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"github.com/benbjohnson/clock"

	"github.com/hms-platform/mgmt/auth"
	"github.com/hms-platform/mgmt/scaler"
	"github.com/hms-platform/mgmt/scaler/scalerhttp"
)

// oneService is a cluster with one service, enough for the example.
type oneService struct {
	mu       sync.Mutex
	replicas int32
}

func (s *oneService) Replicas(context.Context, string) (scaler.ReplicaStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return scaler.ReplicaStatus{Desired: s.replicas, Ready: s.replicas}, nil
}

func (s *oneService) SetReplicas(_ context.Context, _ string, n int32, _ string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replicas = n
	return nil
}

// The seed's walk-through: declare an autoscale rule, then watch it.
func ExampleNewHandler() {
	rps := scaler.MetricSourceFunc(func(context.Context, scaler.MetricQuery) (float64, error) {
		return 640, nil // the GPO surge
	})
	ctrl, err := scaler.New(scaler.Options{
		Clock:   clock.NewMock(),
		Sources: map[string]scaler.MetricSource{"": rps},
		Scaler:  &oneService{replicas: 4},
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		panic(err)
	}
	// auth.AllowAll is for development; hosts pass auth.Authorizer.HTTP()
	// behind auth.Middleware.
	h, err := scalerhttp.NewHandler(ctrl, scalerhttp.Options{Authorize: auth.AllowAll("dev")})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	rule := `{"service": "eligibility-api", "minReplicas": 4, "maxReplicas": 20,
	          "trigger": {"metric": "http_rps", "threshold": 500}}`
	res, err := http.Post(srv.URL+"/autoscale-rules", "application/json", strings.NewReader(rule))
	if err != nil {
		panic(err)
	}
	var created struct {
		RuleID string `json:"ruleId"`
	}
	_ = json.NewDecoder(res.Body).Decode(&created)
	res.Body.Close()
	fmt.Println(res.StatusCode, created.RuleID)

	ctrl.Tick(context.Background()) // Run does this every Interval

	res, err = http.Get(srv.URL + "/rules/" + created.RuleID + "/status")
	if err != nil {
		panic(err)
	}
	var status struct {
		Replicas int32    `json:"replicas"`
		Metric   *float64 `json:"metric"`
	}
	_ = json.NewDecoder(res.Body).Decode(&status)
	res.Body.Close()
	fmt.Printf("replicas=%d metric=%v\n", status.Replicas, *status.Metric)
	// Output:
	// 201 AR-1
	// replicas=8 metric=640
}

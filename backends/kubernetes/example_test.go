package kubernetes_test

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/hms-platform/mgmt/backends/kubernetes"
)

// A Scaler for the workloads of namespace shop labelled for autoscaling,
// reached with the pod's service account.
func ExampleNew() {
	s, err := kubernetes.New(kubernetes.Options{
		InCluster:        true,
		Namespace:        "shop",
		LabelSelector:    "hms.example/autoscale=true",
		ReasonAnnotation: "hms.example/scale-reason",
		Services:         map[string]string{"checkout": "deployment/checkout-api"},
	})
	if err != nil {
		fmt.Println(err) // outside a pod: no service account
		return
	}
	ctx := context.Background()
	if err := s.SetReplicas(ctx, "checkout", 6, "http_rps 130 > 100 per replica"); err != nil {
		fmt.Println(err)
	}
}

// Services lists the workloads the label selector opts in, by names that
// Replicas and SetReplicas accept.
func ExampleScaler_Services() {
	replicas := func(n int32) *int32 { return &n }
	autoscale := map[string]string{"hms.example/autoscale": "true"}
	client := fake.NewClientset(
		&appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "checkout-api", Labels: autoscale},
			Spec:       appsv1.DeploymentSpec{Replicas: replicas(4)},
			Status:     appsv1.DeploymentStatus{ReadyReplicas: 3},
		},
		&appsv1.StatefulSet{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "orders-db", Labels: autoscale},
			Spec:       appsv1.StatefulSetSpec{Replicas: replicas(3)},
			Status:     appsv1.StatefulSetStatus{ReadyReplicas: 3},
		},
		&appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "nightly-report"},
			Spec:       appsv1.DeploymentSpec{Replicas: replicas(1)},
		},
	)
	s, err := kubernetes.New(kubernetes.Options{
		Client:        client,
		Namespace:     "shop",
		LabelSelector: "hms.example/autoscale=true",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	ws, err := s.Services(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, w := range ws {
		fmt.Printf("%s desired=%d ready=%d\n", w.Service, w.Replicas.Desired, w.Replicas.Ready)
	}
	_, err = s.Replicas(ctx, "nightly-report")
	fmt.Println(err)
	// Output:
	// shop/deployment/checkout-api desired=4 ready=3
	// shop/statefulset/orders-db desired=3 ready=3
	// service: kubernetes: replicas of shop/deployment/nightly-report: does not match the label selector "hms.example/autoscale=true"
}

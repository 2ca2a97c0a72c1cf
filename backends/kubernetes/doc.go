// Package kubernetes is a scaler.Scaler for Kubernetes: a service's
// replicas are the spec.replicas of a Deployment or StatefulSet, set
// through its scale subresource with client-go.
//
// # Services and workloads
//
// A service name is "namespace/kind/name", "kind/name" (in
// Options.Namespace) or "name" (of Options.Kind, Deployment by default, in
// Options.Namespace), or is first looked up in Options.Services, which maps
// names to those forms. kind is deployment or statefulset, as kubectl
// spells them ("deploy", "sts", plurals, any case). Options.Namespace
// defaults to the kubeconfig context's namespace, else "default".
//
// Options.LabelSelector ("hms.example/autoscale=true", say) limits the
// workloads the Scaler touches: Services lists the Deployments and
// StatefulSets of Options.Namespace that match it, and a workload that does
// not match is not found for Replicas and SetReplicas either, so that an
// operator opts workloads in by labelling them.
//
// # Reading and setting counts
//
// Replicas reads the workload: Desired is spec.replicas, Ready is
// status.readyReplicas (never more than Desired). They differ while pods
// start; on an API server without controllers Ready stays 0.
//
// Owner, the tenant that owns the service, is the value of the workload's
// own label Options.OwnerLabel ("agency", mgmt.LabelAgency, by default),
// read in the same request as the counts; a workload without that label
// has no owner (""). It is the Deployment's or StatefulSet's label, which
// whoever may change the workload sets, not a pod template's.
//
// SetReplicas updates the workload's scale subresource with the
// resourceVersion the Scaler last saw of it (optimistic concurrency: a
// change made meanwhile — to the count, the labels, anything — is refused
// with a conflict rather than overwritten). That version comes from the
// last Replicas or SetReplicas of the workload, so a controller that reads
// then sets makes one request per call; without one, SetReplicas reads
// first. On a conflict it reads (checking the label selector again) and
// tries again, Options.Retry.Steps attempts in all (5 by default, about
// 10 ms apart, the waits timed by Options.Clock and cut short by ctx).
// Setting the count a workload already has writes nothing. With Options.ReasonAnnotation set, a merge patch then records
// the reason on the workload under that annotation key. The updates carry
// Options.FieldManager ("hms-mgmt") in managed fields.
//
// RBAC: get on deployments and statefulsets, update on deployments/scale
// and statefulsets/scale; list for Services; patch on the workloads for
// ReasonAnnotation.
//
// # Connecting
//
// Exactly one of Options.Client (a ready clientset, a fake one in tests),
// Options.Config (a *rest.Config), Options.Kubeconfig (a file, with
// Options.Context picking a context) and Options.InCluster (the pod's
// service account). A client made here is rate-limited to Options.QPS and
// Options.Burst (50 and 100 by default) unless the Config sets its own, and
// speaks protobuf unless the Config sets a ContentType.
//
// # Errors
//
// Errors wrap the kinds of package mgmt, keep the client-go error in their
// chain (apierrors.IsConflict and friends still work) and name the
// workload as namespace/kind/name:
//
//   - a missing workload or namespace, or one outside the label selector:
//     mgmt.ErrNotFound, field "service";
//   - a malformed service name, a negative count (refused before any
//     request), HTTP 400 and 422: mgmt.ErrInvalid;
//   - still conflicting after the last attempt: mgmt.ErrConflict;
//   - HTTP 403: mgmt.ErrForbidden; HTTP 401: mgmt.ErrUnauthenticated;
//   - no answer (refused connection, TLS, a reset), HTTP 429, 5xx and
//     server timeouts, and a cancelled or expired ctx: mgmt.ErrUnavailable
//     — the last also wrapping context.Canceled or
//     context.DeadlineExceeded.
//
// # Concurrency
//
// A Scaler's methods are safe for concurrent use; it holds no state
// besides its options and the client.
//
// # Example
//
//	s, err := kubernetes.New(kubernetes.Options{
//		InCluster:        true,
//		Namespace:        "shop",
//		LabelSelector:    "hms.example/autoscale=true",
//		ReasonAnnotation: "hms.example/scale-reason",
//		Services:         map[string]string{"checkout": "deployment/checkout-api", "orders": "sts/orders-db"},
//	})
//	if err != nil {
//		return err
//	}
//	ctl, err := scaler.New(scaler.Options{Scaler: s, Sources: sources})
//
// # Jobs
//
// JobRunner (NewJobRunner, connecting as Options do) is a jobs.JobRunner
// that runs each attempt as a batch/v1 Job in its namespace, named by
// JobName (the run ID made DNS-safe, a hash and the attempt: at most 63
// bytes), labelled with the job's labels, fiscalYear and hms.gov/job,
// hms.gov/run and hms.gov/attempt (on its pods too); one container "job"
// runs the job's Image with its Command, requests and limits both set
// from its Resources (GPUs as GPUResource, "nvidia.com/gpu"); backoffLimit
// 0 and restartPolicy Never, since the orchestrator owns retries;
// activeDeadlineSeconds from the job's Timeout; ttlSecondsAfterFinished
// (TTLAfterFinished, an hour); no service-account token mounted. Run
// watches that one Job (an informer, listing again after a lost watch)
// until its status has a Complete condition (success, exit code 0) or a
// Failed one (an error of kind internal with the reason, and the exit code
// of the container of its pod when a pod reports one, else -1); a Job
// deleted meanwhile is a conflict; a list or watch refused for good
// (forbidden, say) deletes the Job and returns that refusal. When ctx ends, Run deletes the Job with
// propagationPolicy Foreground, waits up to StopTimeout for it (and so its
// pods) to be gone, and returns an error of kind unavailable wrapping
// ctx's cause. The output of a finished attempt is its container's log in
// the pod that terminated last (one stream: Kubernetes keeps stdout and
// stderr together), read back into RunResult.Stdout, at most
// JobRunnerOptions.MaxLog (1 MiB) with StdoutTruncated past it; a log that
// cannot be read leaves Stderr one line saying why. API errors keep their kinds as below (a
// Job that exists already for the attempt: conflict on "runID"; a missing
// namespace: not found). RBAC: create, get, list, watch and delete on
// jobs, list on pods, get on pods/log. Its tests run on the same harness, which has no
// kubelet, job controller or garbage collector: they complete and fail
// Jobs by writing their status through the status subresource (and a
// pod's terminated state) as those would, remove the foregroundDeletion
// finalizer as the garbage collector would, and run the cancellation
// parts of jobstest.RunRunner; the parts that need a container to run
// are skipped, saying why.
//
// # Testing
//
// The package's tests run against a real kube-apiserver and etcd
// (internal/kubetest, built by scripts/kube.sh) on loopback: Deployments
// and StatefulSets are created, scaled and read back, the conformance suite
// of scaler/scalertest runs on both kinds, and a second user without RBAC
// rights sees mgmt.ErrForbidden. Client-go fakes stand in only for what a
// real server cannot be made to do on demand: conflicts on every attempt,
// 5xx, 429 and timeouts.
package kubernetes

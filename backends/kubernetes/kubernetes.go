package kubernetes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/benbjohnson/clock"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/scaler"
)

// Kind is a kind of workload with a scale subresource.
type Kind string

// The kinds of workload a Scaler reads and scales.
const (
	Deployment  Kind = "deployment"
	StatefulSet Kind = "statefulset"
)

// ParseKind reads a kind as kubectl spells it: "deployment",
// "deployments", "deploy", "statefulset", "statefulsets" or "sts", in any
// case.
func ParseKind(s string) (Kind, error) {
	switch strings.ToLower(s) {
	case "deployment", "deployments", "deploy":
		return Deployment, nil
	case "statefulset", "statefulsets", "sts":
		return StatefulSet, nil
	}
	return "", fmt.Errorf("%q is not a kind of workload this backend scales (deployment or statefulset)", s)
}

// Defaults.
const (
	DefaultNamespace    = "default"
	DefaultFieldManager = "hms-mgmt"
	// DefaultOwnerLabel is the workload label naming the service's owner:
	// mgmt.LabelAgency.
	DefaultOwnerLabel = mgmt.LabelAgency
	defaultQPS        = 50
	defaultBurst      = 100
)

// Options configures a Scaler. Exactly one of Client, Config, Kubeconfig
// and InCluster says how to reach the cluster.
type Options struct {
	// Client is a ready clientset (a fake one in tests, say).
	Client kubernetes.Interface
	// Config is a client configuration; its QPS and Burst are kept when
	// set (QPS < 0 turns rate limiting off).
	Config *rest.Config
	// Kubeconfig is the path of a kubeconfig file; Context picks one of
	// its contexts (empty: its current context), whose namespace is the
	// default of Namespace.
	Kubeconfig string
	Context    string
	// InCluster uses the pod's service account (rest.InClusterConfig).
	InCluster bool

	// Namespace holds the workloads a service name without a namespace
	// refers to, and the ones Services lists. Empty: the kubeconfig
	// context's namespace, else "default".
	Namespace string
	// Kind is the kind a bare service name refers to; empty is
	// Deployment.
	Kind Kind
	// LabelSelector (such as "hms.example/autoscale=true") limits the
	// workloads the Scaler lists, reads and scales: one that does not
	// match is reported as not found. Empty selects every workload.
	LabelSelector string
	// Services maps a service name to "namespace/kind/name", "kind/name"
	// or "name"; a service not in the map is itself read that way.
	Services map[string]string
	// OwnerLabel is the key of the workload label (on the Deployment or
	// StatefulSet itself, not its pods) whose value Replicas reports as the
	// service's owner, scaler.ReplicaStatus.Owner; a workload without it
	// has no owner (""). Empty is DefaultOwnerLabel, "agency".
	OwnerLabel string

	// ReasonAnnotation, when set, is the annotation key that SetReplicas
	// records its reason under on the workload (a merge patch after the
	// scale; it needs the patch verb on the workload). Empty records
	// nothing.
	ReasonAnnotation string
	// FieldManager names this client in managed fields; empty is
	// DefaultFieldManager.
	FieldManager string
	// Retry is the backoff between attempts of a scale refused for a
	// conflicting change: Steps attempts in all, Duration (growing by
	// Factor, with Jitter) apart; zero is retry.DefaultRetry (5 attempts,
	// about 10 ms apart). The waits end early when ctx does.
	Retry wait.Backoff
	// Clock times the waits between attempts; nil is the real clock.
	Clock clock.Clock
	// QPS and Burst limit the requests per second of a client made from
	// Kubeconfig or InCluster (or from a Config without them); zero means
	// 50 and 100.
	QPS   float32
	Burst int
}

// Scaler reads and sets the replica counts of Deployments and
// StatefulSets through their scale subresource. It implements
// scaler.Scaler. Its methods are safe for concurrent use.
type Scaler struct {
	client       kubernetes.Interface
	namespace    string
	kind         Kind
	selector     labels.Selector
	selectorText string
	services     map[string]ref
	ownerLabel   string
	annotation   string
	fieldManager string
	backoff      wait.Backoff
	clock        clock.Clock

	mu       sync.Mutex
	versions map[ref]version // the last read or write of each workload
}

// version is what the Scaler last saw of a workload that matched the
// selector.
type version struct {
	resourceVersion string
	desired         int32
}

var _ scaler.Scaler = (*Scaler)(nil)

// ref names one workload.
type ref struct {
	namespace string
	kind      Kind
	name      string
}

// String is "namespace/kind/name", a service name that always resolves
// to the workload.
func (r ref) String() string { return r.namespace + "/" + string(r.kind) + "/" + r.name }

// New returns a Scaler. It checks the options and builds the client but
// does not contact the cluster.
func New(opts Options) (*Scaler, error) {
	sources := 0
	for _, set := range []bool{opts.Client != nil, opts.Config != nil, opts.Kubeconfig != "", opts.InCluster} {
		if set {
			sources++
		}
	}
	if sources != 1 {
		return nil, mgmt.Invalid("kubernetes", "set exactly one of Client, Config, Kubeconfig and InCluster (%d set)", sources)
	}
	s := &Scaler{
		namespace:    opts.Namespace,
		kind:         Deployment,
		selector:     labels.Everything(),
		ownerLabel:   opts.OwnerLabel,
		annotation:   opts.ReasonAnnotation,
		fieldManager: opts.FieldManager,
		backoff:      opts.Retry,
		clock:        opts.Clock,
		versions:     make(map[ref]version),
	}
	if s.clock == nil {
		s.clock = clock.New()
	}
	if opts.Kind != "" {
		k, err := ParseKind(string(opts.Kind))
		if err != nil {
			return nil, mgmt.Invalid("kubernetes.kind", "%v", err)
		}
		s.kind = k
	}
	if opts.LabelSelector != "" {
		sel, err := labels.Parse(opts.LabelSelector)
		if err != nil {
			return nil, mgmt.Invalid("kubernetes.labelSelector", "%q: %v", opts.LabelSelector, err)
		}
		s.selector, s.selectorText = sel, sel.String()
	}
	if s.ownerLabel == "" {
		s.ownerLabel = DefaultOwnerLabel
	}
	if errs := validation.IsQualifiedName(s.ownerLabel); len(errs) > 0 {
		return nil, mgmt.Invalid("kubernetes.ownerLabel", "%q is not a label key: %s", s.ownerLabel, strings.Join(errs, "; "))
	}
	if s.annotation != "" {
		if errs := validation.IsQualifiedName(s.annotation); len(errs) > 0 {
			return nil, mgmt.Invalid("kubernetes.reasonAnnotation", "%q is not an annotation key: %s", s.annotation, strings.Join(errs, "; "))
		}
	}
	if s.fieldManager == "" {
		s.fieldManager = DefaultFieldManager
	}
	if s.backoff.Steps == 0 {
		s.backoff = retry.DefaultRetry
	}

	cfg := opts.Config
	switch {
	case opts.Client != nil:
		s.client = opts.Client
	case opts.Kubeconfig != "":
		cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
			&clientcmd.ClientConfigLoadingRules{ExplicitPath: opts.Kubeconfig},
			&clientcmd.ConfigOverrides{CurrentContext: opts.Context})
		c, err := cc.ClientConfig()
		if err != nil {
			return nil, mgmt.Invalid("kubernetes.kubeconfig", "%s: %v", opts.Kubeconfig, err)
		}
		if s.namespace == "" {
			if ns, _, err := cc.Namespace(); err == nil {
				s.namespace = ns
			}
		}
		cfg = c
	case opts.InCluster:
		c, err := rest.InClusterConfig()
		if err != nil {
			return nil, mgmt.Invalid("kubernetes.inCluster", "%v", err)
		}
		cfg = c
	}
	if s.client == nil {
		cfg = rest.CopyConfig(cfg)
		if cfg.QPS == 0 {
			cfg.QPS = opts.QPS
			if cfg.QPS == 0 {
				cfg.QPS = defaultQPS
			}
		}
		if cfg.Burst == 0 {
			cfg.Burst = opts.Burst
			if cfg.Burst == 0 {
				cfg.Burst = defaultBurst
			}
		}
		if cfg.ContentType == "" {
			// Built-in kinds only: protobuf is cheaper to decode than JSON.
			cfg.ContentType = "application/vnd.kubernetes.protobuf"
			cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
		}
		if cfg.UserAgent == "" {
			cfg.UserAgent = s.fieldManager
		}
		c, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			return nil, mgmt.Invalid("kubernetes.config", "%v", err)
		}
		s.client = c
	}
	if s.namespace == "" {
		s.namespace = DefaultNamespace
	}
	if errs := validation.IsDNS1123Label(s.namespace); len(errs) > 0 {
		return nil, mgmt.Invalid("kubernetes.namespace", "%q: %s", s.namespace, strings.Join(errs, "; "))
	}
	s.services = make(map[string]ref, len(opts.Services))
	for svc, target := range opts.Services {
		r, err := s.parseRef("kubernetes.services."+svc, target)
		if err != nil {
			return nil, err
		}
		s.services[svc] = r
	}
	return s, nil
}

// parseRef reads "namespace/kind/name", "kind/name" or "name".
func (s *Scaler) parseRef(field, str string) (ref, error) {
	r := ref{namespace: s.namespace, kind: s.kind}
	parts := strings.Split(str, "/")
	switch len(parts) {
	case 1:
		r.name = parts[0]
	case 2:
		r.name = parts[1]
		k, err := ParseKind(parts[0])
		if err != nil {
			return ref{}, mgmt.Invalid(field, "%q: %v", str, err)
		}
		r.kind = k
	case 3:
		r.namespace, r.name = parts[0], parts[2]
		k, err := ParseKind(parts[1])
		if err != nil {
			return ref{}, mgmt.Invalid(field, "%q: %v", str, err)
		}
		r.kind = k
		if errs := validation.IsDNS1123Label(r.namespace); len(errs) > 0 {
			return ref{}, mgmt.Invalid(field, "%q: namespace %q: %s", str, r.namespace, strings.Join(errs, "; "))
		}
	default:
		return ref{}, mgmt.Invalid(field, "%q is not namespace/kind/name, kind/name or name", str)
	}
	if errs := validation.IsDNS1123Subdomain(r.name); len(errs) > 0 {
		return ref{}, mgmt.Invalid(field, "%q: name %q: %s", str, r.name, strings.Join(errs, "; "))
	}
	return r, nil
}

func (s *Scaler) ref(service string) (ref, error) {
	if r, ok := s.services[service]; ok {
		return r, nil
	}
	return s.parseRef("service", service)
}

// workload is what the Scaler reads of a Deployment or StatefulSet.
type workload struct {
	ref             ref
	labels          map[string]string
	resourceVersion string
	desired, ready  int32
}

// status is what Replicas reports of w; ownerLabel is the key of the
// label naming its owner.
func (w workload) status(ownerLabel string) scaler.ReplicaStatus {
	return scaler.ReplicaStatus{Desired: w.desired, Ready: min(max(w.ready, 0), w.desired), Owner: w.labels[ownerLabel]}
}

func fromDeployment(d *appsv1.Deployment) workload {
	return workload{
		ref:             ref{d.Namespace, Deployment, d.Name},
		labels:          d.Labels,
		resourceVersion: d.ResourceVersion,
		desired:         desired(d.Spec.Replicas),
		ready:           d.Status.ReadyReplicas,
	}
}

func fromStatefulSet(st *appsv1.StatefulSet) workload {
	return workload{
		ref:             ref{st.Namespace, StatefulSet, st.Name},
		labels:          st.Labels,
		resourceVersion: st.ResourceVersion,
		desired:         desired(st.Spec.Replicas),
		ready:           st.Status.ReadyReplicas,
	}
}

// desired is spec.replicas, whose API default is 1.
func desired(p *int32) int32 {
	if p == nil {
		return 1
	}
	return *p
}

// get reads the workload and checks it against the label selector.
func (s *Scaler) get(ctx context.Context, r ref) (workload, error) {
	var w workload
	switch r.kind {
	case Deployment:
		d, err := s.client.AppsV1().Deployments(r.namespace).Get(ctx, r.name, metav1.GetOptions{})
		if err != nil {
			return workload{}, err
		}
		w = fromDeployment(d)
	case StatefulSet:
		st, err := s.client.AppsV1().StatefulSets(r.namespace).Get(ctx, r.name, metav1.GetOptions{})
		if err != nil {
			return workload{}, err
		}
		w = fromStatefulSet(st)
	}
	if !s.selector.Matches(labels.Set(w.labels)) {
		s.forget(r)
		return workload{}, errNotSelected
	}
	s.remember(r, version{w.resourceVersion, w.desired})
	return w, nil
}

func (s *Scaler) remember(r ref, v version) {
	s.mu.Lock()
	s.versions[r] = v
	s.mu.Unlock()
}

func (s *Scaler) forget(r ref) {
	s.mu.Lock()
	delete(s.versions, r)
	s.mu.Unlock()
}

func (s *Scaler) lastSeen(r ref) (version, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.versions[r]
	return v, ok
}

// errNotSelected: the workload exists but the label selector leaves it
// out.
var errNotSelected = errors.New("does not match the label selector")

// Replicas reads the workload: Desired is spec.replicas, Ready is
// status.readyReplicas (at most Desired). They differ while pods start,
// and stay apart on a cluster whose controllers do not run. Owner is the
// workload's Options.OwnerLabel label, "" without one; the one request
// that reads the counts reads it.
func (s *Scaler) Replicas(ctx context.Context, service string) (scaler.ReplicaStatus, error) {
	if err := ctx.Err(); err != nil {
		return scaler.ReplicaStatus{}, mgmt.Unavailable("kubernetes: replicas of %s: %w", service, err)
	}
	r, err := s.ref(service)
	if err != nil {
		return scaler.ReplicaStatus{}, err
	}
	w, err := s.get(ctx, r)
	if err != nil {
		return scaler.ReplicaStatus{}, s.wrap(ctx, err, "service", "kubernetes: replicas of %s", r)
	}
	return w.status(s.ownerLabel), nil
}

// SetReplicas sets spec.replicas through the scale subresource, with the
// resourceVersion last seen of the workload (read first when there is
// none); on a conflict (someone changed the workload meanwhile) it reads
// and tries again, as Options.Retry allows. Setting the count the workload
// already has writes nothing. With Options.ReasonAnnotation set, reason is
// then recorded under that key. A negative count is refused before any
// request.
func (s *Scaler) SetReplicas(ctx context.Context, service string, replicas int32, reason string) error {
	if replicas < 0 {
		return mgmt.Invalid("replicas", "%d is negative (service %s)", replicas, service)
	}
	if err := ctx.Err(); err != nil {
		return mgmt.Unavailable("kubernetes: scale %s: %w", service, err)
	}
	r, err := s.ref(service)
	if err != nil {
		return err
	}
	changed, attempts, err := s.scale(ctx, r, replicas)
	if err != nil {
		if apierrors.IsConflict(err) && ctx.Err() == nil {
			return mgmt.Conflict("service", "kubernetes: scale %s to %d: still conflicting after %d attempts: %w", r, replicas, attempts, err)
		}
		return s.wrap(ctx, err, "replicas", "kubernetes: scale %s to %d", r, replicas)
	}
	if changed && s.annotation != "" {
		if err := s.annotate(ctx, r, reason); err != nil {
			return s.wrap(ctx, err, "service", "kubernetes: %s scaled to %d, but recording the reason under %s failed", r, replicas, s.annotation)
		}
	}
	return nil
}

// scale reads the workload and updates its scale, again after a conflict
// as s.backoff allows. It reports whether it wrote and how many attempts
// it made. (Not retry.RetryOnConflict: it sleeps without watching ctx, and
// it turns an error wrapping context.Canceled into the previous conflict,
// or into success when there was none.)
func (s *Scaler) scale(ctx context.Context, r ref, replicas int32) (changed bool, attempts int, err error) {
	backoff := s.backoff
	for {
		attempts++
		changed, err = s.scaleOnce(ctx, r, replicas)
		if !apierrors.IsConflict(err) || attempts >= s.backoff.Steps {
			return changed, attempts, err
		}
		d := backoff.Step()
		if d <= 0 {
			if cerr := ctx.Err(); cerr != nil {
				return false, attempts, cerr
			}
			continue
		}
		timer := s.clock.Timer(d)
		select {
		case <-ctx.Done():
			timer.Stop()
			return false, attempts, ctx.Err()
		case <-timer.C:
		}
	}
}

func (s *Scaler) scaleOnce(ctx context.Context, r ref, replicas int32) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	// The resourceVersion of the last read or write, if any, saves a read:
	// any change since (labels included) bumps it, and the update is then
	// refused with a conflict, which reads again.
	v, ok := s.lastSeen(r)
	if !ok || v.desired == replicas {
		w, err := s.get(ctx, r)
		if err != nil {
			return false, err
		}
		if w.desired == replicas {
			return false, nil
		}
		v = version{w.resourceVersion, w.desired}
	}
	scale := &autoscalingv1.Scale{
		ObjectMeta: metav1.ObjectMeta{Name: r.name, Namespace: r.namespace, ResourceVersion: v.resourceVersion},
		Spec:       autoscalingv1.ScaleSpec{Replicas: replicas},
	}
	uo := metav1.UpdateOptions{FieldManager: s.fieldManager}
	var (
		out *autoscalingv1.Scale
		err error
	)
	switch r.kind {
	case Deployment:
		out, err = s.client.AppsV1().Deployments(r.namespace).UpdateScale(ctx, r.name, scale, uo)
	case StatefulSet:
		out, err = s.client.AppsV1().StatefulSets(r.namespace).UpdateScale(ctx, r.name, scale, uo)
	}
	if err != nil {
		s.forget(r)
		return false, err
	}
	if out != nil && out.ResourceVersion != "" {
		s.remember(r, version{out.ResourceVersion, replicas})
	} else {
		s.forget(r)
	}
	return true, nil
}

// annotate records reason on the workload with a merge patch.
func (s *Scaler) annotate(ctx context.Context, r ref, reason string) error {
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"annotations": map[string]string{s.annotation: reason}},
	})
	if err != nil {
		return err
	}
	po := metav1.PatchOptions{FieldManager: s.fieldManager}
	switch r.kind {
	case Deployment:
		_, err = s.client.AppsV1().Deployments(r.namespace).Patch(ctx, r.name, types.MergePatchType, patch, po)
	case StatefulSet:
		_, err = s.client.AppsV1().StatefulSets(r.namespace).Patch(ctx, r.name, types.MergePatchType, patch, po)
	}
	return err
}

// Workload is a Deployment or StatefulSet that Services found.
type Workload struct {
	// Service is "namespace/kind/name": Replicas and SetReplicas accept
	// it.
	Service   string
	Namespace string
	Kind      Kind
	Name      string
	Labels    map[string]string
	Replicas  scaler.ReplicaStatus // Owner included
}

// Services lists the Deployments and StatefulSets of Options.Namespace
// that match Options.LabelSelector, ordered by Service.
func (s *Scaler) Services(ctx context.Context) ([]Workload, error) {
	if err := ctx.Err(); err != nil {
		return nil, mgmt.Unavailable("kubernetes: list workloads: %w", err)
	}
	lo := metav1.ListOptions{LabelSelector: s.selectorText}
	var ws []workload
	deps, err := s.client.AppsV1().Deployments(s.namespace).List(ctx, lo)
	if err != nil {
		return nil, s.wrap(ctx, err, "", "kubernetes: list deployments in namespace %s", s.namespace)
	}
	for i := range deps.Items {
		ws = append(ws, fromDeployment(&deps.Items[i]))
	}
	sts, err := s.client.AppsV1().StatefulSets(s.namespace).List(ctx, lo)
	if err != nil {
		return nil, s.wrap(ctx, err, "", "kubernetes: list statefulsets in namespace %s", s.namespace)
	}
	for i := range sts.Items {
		ws = append(ws, fromStatefulSet(&sts.Items[i]))
	}
	out := make([]Workload, 0, len(ws))
	for _, w := range ws {
		if !s.selector.Matches(labels.Set(w.labels)) {
			continue // a fake client does not filter
		}
		out = append(out, Workload{
			Service:   w.ref.String(),
			Namespace: w.ref.namespace,
			Kind:      w.ref.kind,
			Name:      w.ref.name,
			Labels:    w.labels,
			Replicas:  w.status(s.ownerLabel),
		})
	}
	slices.SortFunc(out, func(a, b Workload) int { return strings.Compare(a.Service, b.Service) })
	return out, nil
}

// wrap gives err, from a request, its mgmt kind; format and args say
// what was being done. field is used for not found and invalid.
func (s *Scaler) wrap(ctx context.Context, err error, field, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	if errors.Is(err, errNotSelected) {
		return mgmt.NotFound("service", "%s: %w %q", what, err, s.selectorText)
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		// A rate limiter's wait cut short says so without wrapping ctx's error.
		return mgmt.Unavailable("%s: %w (%w)", what, cerr, err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return mgmt.Unavailable("%s: %w", what, err)
	}
	var status apierrors.APIStatus
	if !errors.As(err, &status) {
		// No answer from the API server: a refused or reset connection,
		// TLS, DNS.
		return mgmt.Unavailable("%s: %w", what, err)
	}
	kind := mgmt.KindInternal
	switch {
	case apierrors.IsNotFound(err):
		kind, field = mgmt.KindNotFound, "service"
	case apierrors.IsForbidden(err):
		kind, field = mgmt.KindForbidden, ""
	case apierrors.IsUnauthorized(err):
		kind, field = mgmt.KindUnauthenticated, ""
	case apierrors.IsInvalid(err), apierrors.IsBadRequest(err), apierrors.IsRequestEntityTooLargeError(err):
		kind = mgmt.KindInvalid
	case apierrors.IsConflict(err), apierrors.IsAlreadyExists(err):
		kind = mgmt.KindConflict
	case apierrors.IsTooManyRequests(err), apierrors.IsServerTimeout(err), apierrors.IsTimeout(err),
		apierrors.IsServiceUnavailable(err), apierrors.IsInternalError(err), apierrors.IsUnexpectedServerError(err),
		status.Status().Code >= http.StatusInternalServerError:
		kind, field = mgmt.KindUnavailable, ""
	default:
		field = ""
	}
	return mgmt.Errorf(kind, field, "%s: %w", what, err)
}

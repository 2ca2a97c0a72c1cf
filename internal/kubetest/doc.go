// Package kubetest runs a throw-away Kubernetes API server — etcd plus
// kube-apiserver, no controller-manager, no scheduler, no kubelet — for a
// package's tests.
//
// One pair of servers serves a whole test binary: Main wraps TestMain,
// starts them the first time a test asks for a client configuration, and
// stops them and removes their directory when the tests end. Tests keep
// out of each other's way with a namespace each:
//
//	var kube *kubetest.Server
//
//	func TestMain(m *testing.M) { kubetest.Main(m, func(s *kubetest.Server) { kube = s }) }
//
//	func TestX(t *testing.T) {
//		cfg := kube.Config(t)    // *rest.Config for user "admin" (system:masters)
//		ns := kube.Namespace(t)  // a fresh namespace
//		…
//	}
//
// ConfigAs(t, kubetest.NoRights) is the configuration of a second user
// with no group and no RBAC binding: everything beyond discovery is
// forbidden to it.
//
// # Finding the binaries
//
// etcd comes from $ETCD_BIN, kube-apiserver from $KUBE_APISERVER_BIN; each
// unset one from CacheDir() (~/.cache/hms-mgmt/bin by default), where
// scripts/kube.sh builds etcd-3.6.16 and kube-apiserver-1.36.3 from the Go
// module proxy (about 5 minutes the first time). When one is missing, a
// test asking for the server is skipped with a message saying how to build
// them — unless CI=true, where it fails. Any other start-up failure fails
// the test, with the servers' logs in the message.
//
// # The servers
//
// Both listen on 127.0.0.1 only, on free ports (chosen by binding port 0;
// on a collision they retry with another), with their state in a directory
// made by os.MkdirTemp ("kubetest-*"). etcd runs with --unsafe-no-fsync: the
// store is thrown away. kube-apiserver runs with a self-signed serving
// certificate in that directory (the configurations verify it), a token
// file of two users (Admin in system:masters, NoRights without groups),
// RBAC authorization, a service-account key pair generated with
// crypto/rsa, --service-cluster-ip-range=10.0.0.0/24 (a setting only) and
// the ServiceAccount admission plugin disabled. Start-up waits for /readyz.
//
// Nothing runs the workloads the tests create: a Deployment's
// status.readyReplicas stays 0, whatever its spec.replicas.
//
// # Clean-up
//
// Stop (called by Main after the tests) stops kube-apiserver, then etcd
// (SIGTERM, SIGKILL after 10 s), and removes the directory, also when
// tests failed. If the test binary dies instead, the kernel kills the
// servers (the parent-death signal, on Linux) and the next start removes
// directories whose test binary is gone.
//
// Server's methods are safe for concurrent use.
package kubetest

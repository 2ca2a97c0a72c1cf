// Package s3 keeps the outputs of scheduled jobs in S3-compatible object
// storage: Outputs is a jobs.OutputStore over github.com/minio/minio-go/v7,
// for Amazon S3, MinIO, SeaweedFS's S3 gateway and the like.
//
//	out, err := s3.NewOutputs(ctx, s3.Options{
//		Endpoint: "s3.us-gov-west-1.amazonaws.com", Bucket: "grant-letters",
//		AccessKey: id, SecretKey: secret, Region: "us-gov-west-1",
//	})
//	orch, err := jobs.New(jobs.Options{…, Outputs: map[string]jobs.OutputStore{"s3": out}})
//
// An output is one object, "<prefix><job>/<scheduled time>/<run ID>/<name>"
// (jobs.OutputKey.ObjectName), such as
// "grant-award-letters/2026-12-07T02:00-05:00/grant-award-letters.20261207T0200/stdout",
// written by a single PUT with its MD5 (Content-MD5): S3 stores an object
// whole or not at all, so a reader never sees half an output, and the
// server refuses a body damaged on the way. A retried Put writes the same
// name again with the same bytes.
//
// NewOutputs checks, once, that the bucket exists and can be reached; it
// never creates one (buckets, their encryption and their retention are
// the operator's). Errors keep their kinds: a missing bucket is not
// found, refused credentials forbidden, a server that cannot be reached
// or answers 5xx unavailable. The secret key never appears in an error
// or a log line.
//
// The tests run against a real S3 server on loopback: SeaweedFS's S3
// gateway (internal/s3test, built by scripts/seaweedfs.sh).
//
// Outputs is safe for concurrent use.
package s3

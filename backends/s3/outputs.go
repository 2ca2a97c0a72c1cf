package s3

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	minio "github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	mgmt "github.com/hms-platform/mgmt"
	"github.com/hms-platform/mgmt/jobs"
)

// Options configure Outputs.
type Options struct {
	// Endpoint is the server's host[:port], without a scheme
	// ("s3.amazonaws.com", "127.0.0.1:8333").
	Endpoint string
	// Insecure talks plain HTTP instead of HTTPS (a server on loopback).
	Insecure bool
	// Region is the bucket's region ("" lets the client ask the server).
	Region string
	// AccessKey and SecretKey are the credentials (both or neither; neither
	// makes anonymous requests).
	AccessKey, SecretKey string
	// Bucket receives the outputs; it must exist.
	Bucket string
	// Prefix is put before every object name, such as "hms-sys/" (it
	// ends with "/" when not empty).
	Prefix string
	// Timeout bounds each Put (default 1 minute).
	Timeout time.Duration
	// Transport, when set, carries the requests (tests; a proxy).
	Transport http.RoundTripper
}

// Outputs is a jobs.OutputStore in an S3 bucket.
type Outputs struct {
	client *minio.Client
	opts   Options
}

var _ jobs.OutputStore = (*Outputs)(nil)

// NewOutputs checks opts, connects, and checks that the bucket exists.
func NewOutputs(ctx context.Context, opts Options) (*Outputs, error) {
	switch {
	case opts.Endpoint == "":
		return nil, mgmt.Invalid("endpoint", "is required")
	case strings.Contains(opts.Endpoint, "://") || strings.ContainsAny(opts.Endpoint, "/?#@"):
		return nil, mgmt.Invalid("endpoint", "%q: give host[:port] only (no scheme, path or credentials)", opts.Endpoint)
	case opts.Bucket == "":
		return nil, mgmt.Invalid("bucket", "is required")
	case (opts.AccessKey == "") != (opts.SecretKey == ""):
		return nil, mgmt.Invalid("secretKey", "give the access key and the secret key together, or neither")
	case opts.Prefix != "" && (!strings.HasSuffix(opts.Prefix, "/") || strings.HasPrefix(opts.Prefix, "/") || strings.Contains(opts.Prefix, "..") || strings.Contains(opts.Prefix, "//")):
		return nil, mgmt.Invalid("prefix", "%q must be a relative path ending with \"/\", without \"..\" or \"//\"", opts.Prefix)
	case opts.Timeout < 0:
		return nil, mgmt.Invalid("timeout", "must not be negative, got %v", opts.Timeout)
	}
	if opts.Timeout == 0 {
		opts.Timeout = time.Minute
	}
	var creds *credentials.Credentials
	if opts.AccessKey != "" {
		creds = credentials.NewStaticV4(opts.AccessKey, opts.SecretKey, "")
	} else {
		creds = credentials.New(&credentials.Static{}) // anonymous
	}
	client, err := minio.New(opts.Endpoint, &minio.Options{
		Creds: creds, Secure: !opts.Insecure, Region: opts.Region, Transport: opts.Transport,
		BucketLookup: minio.BucketLookupPath, MaxRetries: 3,
	})
	if err != nil {
		return nil, mgmt.Invalid("endpoint", "%q: %v", opts.Endpoint, err)
	}
	o := &Outputs{client: client, opts: opts}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	ok, err := client.BucketExists(ctx, opts.Bucket)
	if err != nil {
		return nil, o.wrap(err, "checking bucket %s", opts.Bucket)
	}
	if !ok {
		return nil, mgmt.NotFound("bucket", "s3: no bucket %s at %s", opts.Bucket, opts.Endpoint)
	}
	return o, nil
}

// Put implements jobs.OutputStore: one PUT of the whole output, with its
// MD5. It returns "s3://<bucket>/<object name>".
func (o *Outputs) Put(ctx context.Context, k jobs.OutputKey, name string, data []byte) (string, error) {
	obj, err := k.ObjectName(name)
	if err != nil {
		return "", err
	}
	obj = o.opts.Prefix + obj
	ctx, cancel := context.WithTimeout(ctx, o.opts.Timeout)
	defer cancel()
	_, err = o.client.PutObject(ctx, o.opts.Bucket, obj, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{
		ContentType: "application/octet-stream", SendContentMd5: true, DisableMultipart: true,
	})
	if err != nil {
		return "", o.wrap(err, "putting %s", obj)
	}
	return "s3://" + o.opts.Bucket + "/" + obj, nil
}

// wrap gives err its kind: the server's answer decides, else the
// connection failed (unavailable).
func (o *Outputs) wrap(err error, format string, args ...any) error {
	what := "s3: " + format
	resp := minio.ToErrorResponse(err)
	var kind mgmt.Kind
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		kind = mgmt.KindUnavailable
	case resp.Code == "NoSuchBucket":
		kind = mgmt.KindNotFound
	case resp.Code == "AccessDenied" || resp.Code == "InvalidAccessKeyId" || resp.Code == "SignatureDoesNotMatch" || resp.StatusCode == http.StatusForbidden:
		kind = mgmt.KindForbidden
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		kind = mgmt.KindInvalid
	default: // 5xx, or no answer
		kind = mgmt.KindUnavailable
	}
	return mgmt.Errorf(kind, "", what+": %w", append(args, err)...)
}

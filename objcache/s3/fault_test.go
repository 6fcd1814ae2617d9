package s3

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// TestClassify: the SDK's own errors for S3 answers (parsed from the
// XML an S3 server sends, or from the status alone for HEAD) and for a
// server that does not answer, as the SDK and a wrapper return them.
func TestClassify(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		switch r.URL.Path {
		case "/missing/k":
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>`)
		case "/signed/k":
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SignatureDoesNotMatch</Code><Message>no</Message></Error>`)
		case "/denied/k":
			w.WriteHeader(http.StatusForbidden) // a HEAD's answer: no body, no code
		default:
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidArgument</Code><Message>broken</Message></Error>`)
		}
	}))
	defer srv.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	unreachable := "http://" + closed.Addr().String()
	closed.Close()

	ctx := context.Background()
	cfg := Config{Endpoint: srv.URL, Region: "us-east-1", AccessKeyID: "k", SecretAccessKey: "s"}
	read := func(cfg Config, bucket string) error {
		b, err := OpenBucket(ctx, cfg, bucket, "")
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = b.Read(ctx, "k")
		return err
	}
	head := func(bucket string) error {
		c, err := newClient(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("k")})
		return err
	}
	down := cfg
	down.Endpoint = unreachable
	for _, c := range []struct {
		name string
		err  error
		want Fault
	}{
		{"NoSuchBucket", read(cfg, "missing"), FaultNoBucket},
		{"SignatureDoesNotMatch", read(cfg, "signed"), FaultDenied},
		{"HEAD403", head("denied"), FaultDenied},
		{"Wrapped403", fmt.Errorf("open: %w", head("denied")), FaultDenied},
		{"Unreachable", read(down, "any"), FaultUnreachable},
		{"InvalidArgument", read(cfg, "other"), FaultOther},
		// The types decide, not the message: a code alone, in a chain
		// whose text names no status.
		{"CodeOnly", fmt.Errorf("list: %w", &smithy.GenericAPIError{Code: "AccessDenied", Message: "no"}), FaultDenied},
		{"NetOnly", fmt.Errorf("list: %w", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("refused")}), FaultUnreachable},
		{"Plain", errors.New("disk full"), FaultOther},
		{"Nil", nil, FaultOther},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.err == nil && c.name != "Nil" {
				t.Fatal("the request did not fail")
			}
			if got := Classify(c.err); got != c.want {
				t.Errorf("Classify(%v) = %d, want %d", c.err, got, c.want)
			}
		})
	}
}

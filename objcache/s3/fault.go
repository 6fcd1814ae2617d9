package s3

import (
	"errors"
	"net"
	"strings"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Fault is what went wrong in a request to an S3 server, as far as a
// user can act on it.
type Fault int

const (
	// FaultOther is any other failure.
	FaultOther Fault = iota
	// FaultNoBucket: the bucket does not exist on that server.
	FaultNoBucket
	// FaultDenied: the server refused the credentials, or they may not
	// do that.
	FaultDenied
	// FaultUnreachable: no answer came from the server at all.
	FaultUnreachable
)

// deniedCodes are the error codes of refused credentials or rights.
var deniedCodes = map[string]bool{
	"AccessDenied": true, "InvalidAccessKeyId": true, "SignatureDoesNotMatch": true,
	"InvalidToken": true, "ExpiredToken": true, "InvalidSecurity": true, "Forbidden": true,
}

// Classify says which Fault err is, from the SDK's typed errors (an S3
// error code, the HTTP status, a request that was never answered) as
// they are wrapped by the SDK, gocloud or iceberg-go. An error whose
// chain lost those types is judged by the SDK's message.
func Classify(err error) Fault {
	if err == nil {
		return FaultOther
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch code := api.ErrorCode(); {
		case code == "NoSuchBucket":
			return FaultNoBucket
		case deniedCodes[code]:
			return FaultDenied
		}
	}
	var resp *smithyhttp.ResponseError
	if errors.As(err, &resp) && resp.Response != nil && resp.Response.Response != nil && resp.HTTPStatusCode() == 403 {
		return FaultDenied
	}
	var send *smithyhttp.RequestSendError
	var netErr net.Error
	if errors.As(err, &send) || errors.As(err, &netErr) {
		return FaultUnreachable
	}
	switch msg := err.Error(); {
	case strings.Contains(msg, "NoSuchBucket"):
		return FaultNoBucket
	case strings.Contains(msg, "StatusCode: 403"):
		return FaultDenied
	case strings.Contains(msg, "StatusCode: 0"), strings.Contains(msg, "request send failed"):
		return FaultUnreachable
	}
	return FaultOther
}

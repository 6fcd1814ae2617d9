package server

import "github.com/tarnhq/tarn"

// Input limits the API document states (api/openapi.yaml); the server
// checks them before anything else sees the input, so no message quotes
// a long input whole.
const (
	maxNameLen = 128 // branch, tag, namespace, table and user names
	maxRefLen  = 256 // ref expressions: NAME, HASH, REF~N, REF@{TIME}
)

// checkRefName checks a branch or tag name.
func checkRefName(kind tarn.RefKind, name string) error {
	if len(name) > maxNameLen {
		return tarn.Errorf(tarn.EINVALID, "%s name %s is longer than %d characters", kind, tarn.Quote(name), maxNameLen)
	}
	return tarn.ValidateRefName(kind, name)
}

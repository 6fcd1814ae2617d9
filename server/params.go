package server

import (
	"unicode/utf8"

	"github.com/tarnhq/tarn"
)

// Input limits the API document states (api/openapi.yaml); the server
// checks them before anything else sees the input, so no message quotes
// a long input whole.
const (
	maxNameLen = 128 // branch, tag, namespace, table and user names
	maxRefLen  = 256 // ref expressions: NAME, HASH, REF~N, REF@{TIME}, REF@HASH
)

// checkRefName checks a branch or tag name.
func checkRefName(kind tarn.RefKind, name string) error {
	if len(name) > maxNameLen {
		return tarn.Errorf(tarn.EINVALID, "%s name %s is longer than %d characters", kind, tarn.Quote(name), maxNameLen)
	}
	return tarn.ValidateRefName(kind, name)
}

// checkRef checks a ref expression: not empty, not longer than
// maxRefLen, and in ref syntax (NAME, HASH, REF~N, REF@{TIME}, REF@HASH).
func checkRef(ref string) error {
	if ref == "" {
		return tarn.Errorf(tarn.EINVALID, "ref is empty: give a branch, tag, commit hash, REF~N, REF@{TIME} or BRANCH@COMMIT")
	}
	if utf8.RuneCountInString(ref) > maxRefLen {
		return tarn.Errorf(tarn.EINVALID, "ref %s is longer than %d characters", tarn.Quote(ref), maxRefLen)
	}
	_, err := tarn.ParseRef(ref)
	return err
}

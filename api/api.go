// Package api holds the HTTP API's OpenAPI document, openapi.yaml. The
// server checks every request against it, so the document and the server
// agree on what is accepted.
package api

import _ "embed"

// OpenAPI is the OpenAPI 3.0 document of `tarn serve`.
//
//go:embed openapi.yaml
var OpenAPI []byte

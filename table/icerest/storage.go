package icerest

import (
	"strings"

	"github.com/tarnhq/tarn"
)

// CredentialPolicy says which storage credentials the catalog hands the
// engines that load a table.
type CredentialPolicy string

// Credential policies.
const (
	// CredentialsNone hands out none: engines use their own (the default).
	CredentialsNone CredentialPolicy = "none"
	// CredentialsStatic hands out the server's own access keys: only for
	// engines as trusted as the server, since a key reaches the whole
	// bucket.
	CredentialsStatic CredentialPolicy = "static"
)

// ParseCredentialPolicy checks a --iceberg-credentials value.
func ParseCredentialPolicy(s string) (CredentialPolicy, error) {
	switch p := CredentialPolicy(s); p {
	case CredentialsNone, CredentialsStatic:
		return p, nil
	}
	return "", tarn.Errorf(tarn.EINVALID, "unknown credential policy %s: use none (engines bring their own) or static (hand out the server's keys)", tarn.Quote(s))
}

// StorageConfig returns the table config an engine needs to reach the
// files of a warehouse: nothing for a local one, whose metadata names
// file:// paths that engines on the same machine read. For s3:// it
// carries the endpoint, path-style addressing and region of the server's
// FileIO properties (io: s3.endpoint, s3.region,
// s3.force-virtual-addressing), under the names Spark, PyIceberg and
// Trino read, and with CredentialsStatic the server's access keys.
func StorageConfig(warehouse string, io map[string]string, policy CredentialPolicy) map[string]string {
	if !strings.HasPrefix(warehouse, "s3://") && !strings.HasPrefix(warehouse, "s3a://") {
		return nil
	}
	cfg := map[string]string{}
	if v := io["s3.endpoint"]; v != "" {
		cfg["s3.endpoint"] = v
		virtual := io["s3.force-virtual-addressing"] == "true"
		cfg["s3.path-style-access"] = boolString(!virtual)
		cfg["s3.force-virtual-addressing"] = boolString(virtual)
	}
	if v := io["s3.region"]; v != "" {
		cfg["s3.region"], cfg["client.region"] = v, v
	}
	if policy == CredentialsStatic {
		for _, k := range []string{"s3.access-key-id", "s3.secret-access-key", "s3.session-token"} {
			if v := io[k]; v != "" {
				cfg[k] = v
			}
		}
	}
	return cfg
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

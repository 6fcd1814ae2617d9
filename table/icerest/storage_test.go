package icerest_test

import (
	"maps"
	"testing"

	"github.com/tarnhq/tarn/table/icerest"
)

func TestStorageConfig(t *testing.T) {
	io := map[string]string{"s3.endpoint": "http://minio:9000", "s3.region": "eu-west-1",
		"s3.access-key-id": "AK", "s3.secret-access-key": "SK"}
	s3 := map[string]string{"s3.endpoint": "http://minio:9000", "s3.path-style-access": "true", "s3.force-virtual-addressing": "false",
		"s3.region": "eu-west-1", "client.region": "eu-west-1"}
	withKeys := maps.Clone(s3)
	withKeys["s3.access-key-id"], withKeys["s3.secret-access-key"] = "AK", "SK"
	virtual := map[string]string{"s3.endpoint": "https://s3.example", "s3.force-virtual-addressing": "true"}
	for _, tc := range []struct {
		name, warehouse string
		io              map[string]string
		policy          icerest.CredentialPolicy
		want            map[string]string
	}{
		{"local", "file:///data/lake/warehouse", io, icerest.CredentialsStatic, nil},
		{"s3 without keys", "s3://bucket/lake", io, icerest.CredentialsNone, s3},
		{"s3 with the server's keys", "s3://bucket/lake", io, icerest.CredentialsStatic, withKeys},
		{"virtual addressing", "s3://bucket", virtual, icerest.CredentialsNone,
			map[string]string{"s3.endpoint": "https://s3.example", "s3.path-style-access": "false", "s3.force-virtual-addressing": "true"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := icerest.StorageConfig(tc.warehouse, tc.io, tc.policy); !maps.Equal(got, tc.want) {
				t.Errorf("got %v\nwant %v", got, tc.want)
			}
		})
	}
	if _, err := icerest.ParseCredentialPolicy("vended"); err == nil {
		t.Error("an unknown policy was accepted")
	}
}

package table

import (
	"context"
	"maps"
	"time"

	iceio "github.com/apache/iceberg-go/io"
	"github.com/tarnhq/tarn"
	s3fetch "github.com/tarnhq/tarn/objcache/s3"
)

// EngineIOProperties returns the FileIO properties another engine needs
// to read and write this warehouse's files as the server does: its own
// (s3.endpoint, ...) plus the region the standard AWS settings name and,
// with keys, the access keys they resolve to (the environment, the shared
// files or a role) now: temporary credentials are handed out until they
// expire. A local warehouse needs none.
func (s *Service) EngineIOProperties(ctx context.Context, keys bool) (map[string]string, error) {
	props := maps.Clone(s.ioProps)
	if !IsRemote(s.warehouse) {
		return props, nil
	}
	if props == nil {
		props = map[string]string{}
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	keys = keys && props[iceio.S3AccessKeyID] == ""
	aws, err := s3fetch.Resolve(ctx, keys)
	if err != nil {
		return nil, tarn.Errorf(tarn.EINVALID, "resolve the AWS settings to hand out for the warehouse %s: %v: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or ~/.aws), or use --iceberg-credentials none", s.Where(), err)
	}
	if props[iceio.S3Region] == "" && aws.Region != "" {
		props[iceio.S3Region] = aws.Region
	}
	if keys {
		props[iceio.S3AccessKeyID], props[iceio.S3SecretAccessKey] = aws.AccessKeyID, aws.SecretAccessKey
		if aws.SessionToken != "" {
			props[iceio.S3SessionToken] = aws.SessionToken
		}
	}
	return props, nil
}

package table

import (
	"context"
	"maps"
	"time"

	iceio "github.com/apache/iceberg-go/io"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/tarnhq/tarn"
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
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, tarn.Errorf(tarn.EINVALID, "read the AWS settings for the warehouse %s: %v", s.Where(), err)
	}
	if props[iceio.S3Region] == "" && cfg.Region != "" {
		props[iceio.S3Region] = cfg.Region
	}
	if !keys || props[iceio.S3AccessKeyID] != "" {
		return props, nil
	}
	if cfg.Credentials == nil {
		return nil, tarn.Errorf(tarn.EINVALID, "no AWS credentials to hand out for the warehouse %s: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or ~/.aws), or use --iceberg-credentials none", s.Where())
	}
	c, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return nil, tarn.Errorf(tarn.EINVALID, "resolve the AWS credentials to hand out for the warehouse %s: %v: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or ~/.aws), or use --iceberg-credentials none", s.Where(), err)
	}
	props[iceio.S3AccessKeyID], props[iceio.S3SecretAccessKey] = c.AccessKeyID, c.SecretAccessKey
	if c.SessionToken != "" {
		props[iceio.S3SessionToken] = c.SessionToken
	}
	return props, nil
}

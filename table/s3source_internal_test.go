package table

import (
	"strings"
	"testing"

	"github.com/tarnhq/tarn"
)

func TestParseObjectInput(t *testing.T) {
	for _, c := range []struct {
		in, bucket, key, prefix string
	}{
		{"s3://b/data/x.parquet", "b", "data/x.parquet", "data/x.parquet"},
		{"s3://b/data/*.parquet", "b", "data/*.parquet", "data/"},
		{"s3://b/a/b?/c*.csv", "b", "a/b?/c*.csv", "a/"},
		{"s3://b/*.csv", "b", "*.csv", ""},
		{"s3://b", "b", "", ""},
		{"s3://b/dir/", "b", "dir/", "dir/"},
	} {
		in, err := parseObjectInput(c.in)
		if err != nil || in.Bucket != c.bucket || in.Key != c.key || in.listPrefix() != c.prefix {
			t.Errorf("%s: got %+v prefix %q (%v), want bucket %q key %q prefix %q", c.in, in, in.listPrefix(), err, c.bucket, c.key, c.prefix)
		}
	}
	for _, bad := range []string{"s3://", "s3:///key", "s3://b*/x.csv", "gs://b/x"} {
		if _, err := parseObjectInput(bad); tarn.ErrorCode(err) != tarn.EINVALID || !strings.Contains(err.Error(), "s3://BUCKET/KEY") {
			t.Errorf("%s: got %v, want a usage hint", bad, err)
		}
	}
}

func TestObjectInput_Match(t *testing.T) {
	listed := []object{
		{"data/.hidden.parquet", 1}, {"data/_SUCCESS", 0}, {"data/a.parquet", 10}, {"data/b.csv", 20},
		{"data/notes.txt", 3}, {"data/sub/", 0}, {"data/sub/c.parquet", 30}, {"data/sub/d.jsonl", 40},
		{"data2/e.parquet", 50},
	}
	keys := func(objs []object) string {
		var k []string
		for _, o := range objs {
			k = append(k, o.Key)
		}
		return strings.Join(k, " ")
	}
	t.Run("OK", func(t *testing.T) {
		for _, c := range []struct{ url, want string }{
			{"s3://b/data/*.parquet", "data/a.parquet"},
			{"s3://b/data/*", "data/a.parquet data/b.csv"},
			{"s3://b/data/.*", "data/.hidden.parquet"},
			{"s3://b/data/*/*", "data/sub/c.parquet data/sub/d.jsonl"},
			{"s3://b/data*/*.parquet", "data/a.parquet data2/e.parquet"},
			{"s3://b/data/[ab].*", "data/a.parquet data/b.csv"},
			{"s3://b/data/b.csv", "data/b.csv"},
			{"s3://b/data", "data/a.parquet data/b.csv"},
			{"s3://b/data/", "data/a.parquet data/b.csv"},
			{"s3://b/data/sub", "data/sub/c.parquet data/sub/d.jsonl"},
		} {
			in, err := parseObjectInput(c.url)
			if err != nil {
				t.Fatal(err)
			}
			var under []object
			for _, o := range listed {
				if strings.HasPrefix(o.Key, in.listPrefix()) {
					under = append(under, o)
				}
			}
			got, err := in.match(under, "at http://s3")
			if err != nil || keys(got) != c.want {
				t.Errorf("%s: got %q (%v), want %q", c.url, keys(got), err, c.want)
			}
		}
	})
	t.Run("Err", func(t *testing.T) {
		for _, c := range []struct {
			url      string
			mentions []string
		}{
			{"s3://b/data/*.orc", []string{`no object matches "s3://b/data/*.orc"`, `bucket "b"`, "at http://s3", "aws s3 ls s3://b/data/"}},
			{"s3://b/data/*.txt", []string{`no supported file matches "s3://b/data/*.txt"`, ".parquet"}},
			{"s3://b/data/notes.txt", []string{"s3://b/data/notes.txt", `unsupported file extension ".txt"`}},
			{"s3://b/data/missing.csv", []string{`no object or folder "s3://b/data/missing.csv"`, `bucket "b"`}},
			{"s3://b/data/[x", []string{"invalid pattern"}},
			{"s3://b/empty/", []string{`no object or folder "s3://b/empty/"`}},
		} {
			in, err := parseObjectInput(c.url)
			if err != nil {
				t.Fatal(err)
			}
			got, err := in.match(listed, "at http://s3")
			if err == nil || tarn.ErrorCode(err) != tarn.EINVALID {
				t.Errorf("%s: got %q (%v), want an invalid-input error", c.url, keys(got), err)
				continue
			}
			for _, m := range c.mentions {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("%s: %q does not mention %q", c.url, err, m)
				}
			}
		}
		if _, err := (objectInput{URL: "s3://b/", Bucket: "b"}).match(nil, "AWS S3"); err == nil || !strings.Contains(err.Error(), "no objects in bucket") {
			t.Errorf("empty bucket: %v", err)
		}
		if _, err := (objectInput{URL: "s3://b/data/sub/", Bucket: "b", Key: "data/sub/"}).match([]object{{"data/sub/x/y.csv", 1}}, "AWS S3"); err == nil || !strings.Contains(err.Error(), "no supported file directly in it") {
			t.Errorf("folder of folders: %v", err)
		}
	})
}

func TestStagedInputs_Rename(t *testing.T) {
	st := &stagedInputs{urls: map[string]string{"/tmp/s3-input-1/0/a.csv": "s3://b/in/a.csv"}}
	err := st.rename(tarn.Errorf(tarn.EINVALID, "/tmp/s3-input-1/0/a.csv:3: column \"x\": cannot parse"))
	if tarn.ErrorCode(err) != tarn.EINVALID || err.Error() != `s3://b/in/a.csv:3: column "x": cannot parse` {
		t.Fatalf("got %v (%s)", err, tarn.ErrorCode(err))
	}
	if st.url("/tmp/s3-input-1/0/a.csv") != "s3://b/in/a.csv" || st.url("/x.csv") != "/x.csv" {
		t.Fatal("url does not map the copies")
	}
}

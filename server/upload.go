package server

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"

	"github.com/tarnhq/tarn"
)

// readUpload reads a multipart/form-data upload: first a "request" part
// (JSON, at most maxJSON bytes, decoded strictly into req), then check
// (before any file is stored: a refused write costs no upload), then every
// part named partName, each given to each. It returns a fresh folder for
// the parts' files (the caller removes it, also after an error).
func (s *Server) readUpload(r *http.Request, req any, check func() error, partName, layout string, each func(dir string, p *multipart.Part) error) (string, error) {
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt != "multipart/form-data" {
		return "", tarn.Errorf(tarn.EINVALID, "%s %s takes multipart/form-data (%s), not %s", r.Method, r.Pattern[strings.Index(r.Pattern, " ")+1:], layout, tarn.Quote(mt))
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return "", tarn.Errorf(tarn.EINVALID, "malformed multipart body: %v", err)
	}
	dir, err := s.uploadDir()
	if err != nil {
		return "", err
	}
	gotRequest := false
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return dir, uploadErr(err)
		}
		switch name := part.FormName(); {
		case name == "request" && !gotRequest:
			if err := decodePart(part, req, s.spec.partSchema(r.Pattern, "request")); err != nil {
				return dir, err
			}
			if err := check(); err != nil {
				return dir, err
			}
			gotRequest = true
		case name == partName && gotRequest:
			if err := each(dir, part); err != nil {
				return dir, err
			}
		case name == partName:
			return dir, tarn.Errorf(tarn.EINVALID, "the \"request\" part must come before the %q parts", partName)
		default:
			return dir, tarn.Errorf(tarn.EINVALID, "unexpected multipart part %s: send %s", tarn.Quote(name), layout)
		}
	}
	if !gotRequest {
		return dir, tarn.Errorf(tarn.EINVALID, "the upload has no \"request\" part: send %s", layout)
	}
	return dir, nil
}

// decodePart decodes the JSON request part strictly, reading at most
// maxJSON bytes of it, after checking it against its schema in the API
// document.
func decodePart(part io.Reader, v any, sch *schema) error {
	b, err := io.ReadAll(io.LimitReader(part, maxJSON+1))
	if err != nil {
		return uploadErr(err)
	}
	if len(b) > maxJSON {
		return tarn.Errorf(tarn.EINVALID, "the \"request\" part is larger than the server's limit of %s: send a shorter request", tarn.FormatBytes(maxJSON))
	}
	if sch != nil {
		if err := checkJSON(sch, b, "request part"); err != nil {
			return err
		}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return tarn.Errorf(tarn.EINVALID, "malformed JSON in the request part: %v", err)
	}
	if dec.More() {
		return tarn.Errorf(tarn.EINVALID, "malformed JSON in the request part: more than one JSON value")
	}
	return nil
}

// receive reads an import upload: the request part into req, then every
// "file" part into a fresh folder, one subfolder per file so that equal
// names do not collide. Only the base name a client sends is kept.
// objects gives the inputs the request names in a bucket (read by the
// service, not uploaded): with none, an upload without files is refused.
// At most MaxImportFiles parts are taken: the one past the limit is
// refused before it is stored (each file costs the import memory and a
// Parquet file, however small it is).
func (s *Server) receive(r *http.Request, req any, check func() error, objects func() []string) (string, []string, error) {
	var files []string
	dir, err := s.readUpload(r, req, check, "file", `a "request" part, then "file" parts`, func(dir string, part *multipart.Part) error {
		if len(files) == s.MaxImportFiles {
			return tarn.Errorf(tarn.EINVALID, "the import has more than %d files, the server's limit (tarn serve --max-import-files): import them in several parts, or combine them into fewer, larger files", s.MaxImportFiles)
		}
		name, err := uploadName(part.FileName())
		if err != nil {
			return err
		}
		sub := filepath.Join(dir, strconv.Itoa(len(files)))
		if err := os.Mkdir(sub, 0o700); err != nil {
			return err
		}
		target := filepath.Join(sub, name)
		f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, part)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return uploadErr(err)
		}
		files = append(files, target)
		return nil
	})
	if err != nil {
		return dir, nil, err
	}
	files = append(objects(), files...)
	if len(files) == 0 {
		err = tarn.Errorf(tarn.EINVALID, "no files uploaded: give files (or s3:// objects) with --from")
	}
	return dir, files, err
}

// receiveProject reads a run upload: the request part, then one
// "project" part unpacked into DIR/project, which must hold a
// tarn_project.yml at its root.
//
// With Projects set, the archive is also kept as sent, in
// DIR/project.tar.gz, for the bucket: the bytes that were checked are
// the bytes stored.
func (s *Server) receiveProject(r *http.Request, req *tarn.RunRequest, check func() error) (string, error) {
	got := false
	dir, err := s.readUpload(r, req, check, "project", `a "request" part, then a "project" part (the project as tar.gz)`, func(dir string, part *multipart.Part) error {
		if got {
			return tarn.Errorf(tarn.EINVALID, "the upload has two \"project\" parts: send one")
		}
		got = true
		if s.Projects == nil {
			return untar(part, filepath.Join(dir, "project"), s.projectLimits())
		}
		f, err := os.OpenFile(filepath.Join(dir, projectArchive), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := untar(io.TeeReader(part, f), filepath.Join(dir, "project"), s.projectLimits()); err != nil {
			return err
		}
		// The rest of the stream (gzip's trailer, tar's padding), which
		// the claiming server's unpacking may read.
		if _, err := io.Copy(f, part); err != nil {
			return uploadErr(err)
		}
		return f.Close()
	})
	if err == nil && !got {
		err = tarn.Errorf(tarn.EINVALID, "a run upload needs a \"request\" part and a \"project\" part (the project as tar.gz)")
	}
	if err == nil && !hasProjectFile(filepath.Join(dir, "project")) {
		err = tarn.Errorf(tarn.EINVALID, "the project has no %s at its root: is it a tarn project? (`tarn init NAME` creates one; run `tarn run -p DIR` on the folder that holds it)", tarn.ProjectFile)
	}
	return dir, err
}

// hasProjectFile says whether dir holds a project file (.yml or .yaml).
func hasProjectFile(dir string) bool {
	for _, name := range []string{tarn.ProjectFile, strings.TrimSuffix(tarn.ProjectFile, ".yml") + ".yaml"} {
		if st, err := os.Stat(filepath.Join(dir, name)); err == nil && st.Mode().IsRegular() {
			return true
		}
	}
	return false
}

// projectArchive is the name of a run's project archive, as sent, in
// its upload folder (see receiveProject).
const projectArchive = "project.tar.gz"

// projectLimits bound a project archive: 4 × MaxUpload unpacked,
// MaxProjectFiles entries, maxProjectDepth folders deep.
func (s *Server) projectLimits() archiveLimits {
	return archiveLimits{bytes: 4 * s.MaxUpload, entries: s.MaxProjectFiles, depth: maxProjectDepth}
}

// DefaultMaxProjectFiles is the default cap on a project archive's entries.
const DefaultMaxProjectFiles = 10000

// DefaultMaxImportFiles is the default cap on the files of one import.
const DefaultMaxImportFiles = 1000

// maxProjectDepth caps how deeply a project archive nests folders.
const maxProjectDepth = 32

// archiveLimits bound what a project archive may unpack to.
type archiveLimits struct {
	bytes   int64 // of all files
	entries int   // files and folders
	depth   int   // folders above a file
}

// untar unpacks a tar.gz of regular files and folders into dir. Absolute
// names, ".." and links are refused: nothing lands outside dir; neither
// does more than lim allows (an archive that expands without end, or
// into more entries or deeper folders than a project has). Every refusal
// is EINVALID and names the entry, never a server path.
func untar(r io.Reader, dir string, lim archiveLimits) error {
	var total int64
	gz, err := gzip.NewReader(r)
	if err != nil {
		return uploadErr(err)
	}
	tr := tar.NewReader(gz)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for entries := 1; ; entries++ {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return uploadErr(err)
		}
		if entries > lim.entries {
			return tarn.Errorf(tarn.EINVALID, "the project archive has more than %d files and folders, the server's limit (tarn serve --max-project-files): list generated files in the project's .gitignore", lim.entries)
		}
		name := path.Clean(h.Name)
		if path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") || strings.Contains(name, "\\") {
			return tarn.Errorf(tarn.EINVALID, "the project archive has an entry outside the project: %s", tarn.Quote(h.Name))
		}
		if depth := strings.Count(name, "/"); depth >= lim.depth {
			return tarn.Errorf(tarn.EINVALID, "the project archive nests folders more than %d deep (%s): flatten the project", lim.depth, tarn.Quote(h.Name))
		}
		target := filepath.Join(dir, filepath.FromSlash(name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return unpackErr(h.Name, err)
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return unpackErr(h.Name, err)
			}
			if total += h.Size; total > lim.bytes {
				return tarn.Errorf(tarn.EINVALID, "the project expands to more than %s: list data files in its .gitignore, or keep data in tables", tarn.FormatBytes(lim.bytes))
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			if err != nil {
				return unpackErr(h.Name, err)
			}
			_, err = io.Copy(f, io.LimitReader(tr, h.Size))
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return uploadErr(err)
			}
		default:
			return tarn.Errorf(tarn.EINVALID, "the project archive has %s, which is not a regular file or folder (links are not accepted)", tarn.Quote(h.Name))
		}
	}
}

// unpackErr explains an entry that cannot be unpacked (twice in the
// archive, or a file and a folder at one path) by its name, without
// server paths.
func unpackErr(name string, err error) error {
	if errors.Is(err, fs.ErrExist) || errors.Is(err, syscall.ENOTDIR) {
		return tarn.Errorf(tarn.EINVALID, "the project archive has %s, but its path is taken (by an entry of that name, or a file above it): each path is one file or one folder, once", tarn.Quote(name))
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return tarn.Errorf(tarn.EINVALID, "the project archive cannot be unpacked at %s: %v", tarn.Quote(name), err)
}

func uploadErr(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return err
	}
	return tarn.Errorf(tarn.EINVALID, "upload interrupted or malformed: %v", err)
}

var safeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._ -]{0,200}$`)

// uploadName checks the name of an uploaded file: a plain base name.
func uploadName(name string) (string, error) {
	if !safeName.MatchString(name) || strings.Contains(name, "..") {
		return "", tarn.Errorf(tarn.EINVALID, "invalid upload file name %s: send a plain file name (letters, digits, '.', '_', '-', ' '), no folders", tarn.Quote(name))
	}
	return name, nil
}

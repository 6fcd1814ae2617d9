package pipeline

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzProjectFile: any tarn_project.yml is read or refused with an error,
// never a panic; a project that loads resolves its parameters (or says
// which one is missing) without panicking either.
func FuzzProjectFile(f *testing.F) {
	for _, s := range []string{
		"name: taxi\ndefaults:\n  python: \"3.11\"\n  timeout: 120\nparameters:\n  min: {type: float, default: 1}\n",
		"project:\n  id: 1234\n  name: x\nparameters:\n  s: {type: str, required: true, description: hi}\ninclude_paths: [models]\n",
		"name: x\ndefaults:\n  memory: 4GiB\n  packages: {pandas: \"2.2.3\"}\n", "name: [", "- 1\n- 2\n", "name: x\nparameters:\n  n: {type: int, default: abc}\n",
		"name: x\nindex: {url: \"http://i\"}\n", "", "name: &a x\nother: *a\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, ProjectFile), data, 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := readProjectFile(dir)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("%q: an empty error", data)
			}
			return
		}
		_, _ = p.ResolveParams(nil)
		for name := range p.Parameters {
			_, _ = p.ResolveParams(map[string]string{name: "1"})
		}
	})
}

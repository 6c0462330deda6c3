package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// docExample is one egressctl command of a Markdown page and the output the
// page shows for it.
type docExample struct {
	file   string
	line   int
	args   []string
	output []string
}

// docExamples finds the egressctl commands of a page: a line of a fenced
// block that starts with "bin/egressctl" (continued by a trailing
// backslash), with the output shown after it in the same block, or else in
// the fenced block that follows at once without a language.
func docExamples(t *testing.T, file string) []docExample {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	var out []docExample
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "```") {
			continue
		}
		// One fenced block: lines[i+1 : end].
		end := i + 1
		for end < len(lines) && !strings.HasPrefix(lines[end], "```") {
			end++
		}
		for j := i + 1; j < end; j++ {
			if !strings.HasPrefix(lines[j], "bin/egressctl ") {
				continue
			}
			ex := docExample{file: file, line: j + 1}
			cmd := lines[j]
			for strings.HasSuffix(cmd, "\\") && j+1 < end {
				j++
				cmd = strings.TrimSuffix(cmd, "\\") + " " + strings.TrimSpace(lines[j])
			}
			cmd, _, _ = strings.Cut(cmd, " #") // a shell comment
			ex.args = strings.Fields(strings.TrimPrefix(cmd, "bin/egressctl "))
			for j+1 < end && !strings.HasPrefix(lines[j+1], "bin/egressctl ") && !strings.HasPrefix(lines[j+1], "#") {
				j++
				ex.output = append(ex.output, lines[j])
			}
			// Output in the next block, when this one shows only commands.
			if len(ex.output) == 0 && end+1 < len(lines) && lines[end+1] == "```" && j+1 == end {
				for k := end + 2; k < len(lines) && !strings.HasPrefix(lines[k], "```"); k++ {
					ex.output = append(ex.output, lines[k])
				}
			}
			out = append(out, ex)
		}
		i = end
	}
	return out
}

// TestDocExamples runs every egressctl command that README.md and docs/
// show, from the repository's root, and requires the output they show:
// each shown line, in order, among the command's output lines (a page may
// leave lines out, never change them). egressctl report needs a cluster:
// its output is the golden TestReport writes from a live API server.
func TestDocExamples(t *testing.T) {
	t.Chdir("../..")
	pages, err := filepath.Glob("docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	pages = append([]string{"README.md"}, pages...)
	n := 0
	for _, page := range pages {
		for _, ex := range docExamples(t, page) {
			n++
			var got string
			verb := ""
			if len(ex.args) > 0 {
				verb = ex.args[0]
			}
			switch verb {
			case "report":
				if len(ex.output) == 0 {
					continue // the command alone, no output to check
				}
				if strings.Join(ex.args, " ") != "report -n egress-report small" {
					t.Errorf("%s:%d: egressctl %s: show the report of TestReport's gateway (report -n egress-report small), whose output a test checks",
						ex.file, ex.line, strings.Join(ex.args, " "))
					continue
				}
				data, err := os.ReadFile("cmd/egressctl/testdata/report/small.table")
				if err != nil {
					t.Fatal(err)
				}
				got = string(data)
			case "observe":
				// observe needs a Prometheus: its output is the golden
				// TestObserveSeedGolden writes from a real one.
				const want = "observe -f config/samples/seed -f simulator/observe/testdata/api.yaml --prometheus http://localhost:9090 --at 2026-11-30T12:00:00Z"
				if strings.Join(ex.args, " ") != want {
					t.Errorf("%s:%d: egressctl %s: show TestObserveSeedGolden's command (%s), whose output a test checks",
						ex.file, ex.line, strings.Join(ex.args, " "), want)
					continue
				}
				data, err := os.ReadFile("cmd/egressctl/testdata/report/observe-seed.txt")
				if err != nil {
					t.Fatal(err)
				}
				got = string(data)
			default:
				var stdout, stderr bytes.Buffer
				if code := run(ex.args, &stdout, &stderr); code != exitOK && code != exitOpens {
					t.Errorf("%s:%d: egressctl %s: exit %d: %s", ex.file, ex.line, strings.Join(ex.args, " "), code, stderr.String())
					continue
				}
				got = stdout.String()
			}
			if missing := notShown(ex.output, got); missing != "" {
				t.Errorf("%s:%d: egressctl %s: the page shows %q, which its output does not have (in that order):\n%s",
					ex.file, ex.line, strings.Join(ex.args, " "), missing, got)
			}
		}
	}
	if n < 5 {
		t.Errorf("found %d egressctl examples in README.md and docs/, expected more: is the parser broken?", n)
	}
}

// notShown returns the first shown line (trailing spaces aside) that is not
// among the output's lines after the previous shown line; "" when all are.
func notShown(shown []string, output string) string {
	lines := strings.Split(output, "\n")
	at := 0
	for _, s := range shown {
		s = strings.TrimRight(s, " ")
		if s == "" {
			continue
		}
		for at < len(lines) && strings.TrimRight(lines[at], " ") != s {
			at++
		}
		if at == len(lines) {
			return s
		}
		at++
	}
	return ""
}

// TestDocGetColumns: a "kubectl get egw" a page shows has the columns the
// CRD gives kubectl, in its order.
func TestDocGetColumns(t *testing.T) {
	t.Chdir("../..")
	data, err := os.ReadFile("config/crd/bases/egress.ambient.io_egressgateways.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.Unmarshal(data, &crd); err != nil {
		t.Fatal(err)
	}
	want := []string{"NAME"}
	for _, c := range crd.Spec.Versions[0].AdditionalPrinterColumns {
		want = append(want, strings.ToUpper(c.Name))
	}
	pages, _ := filepath.Glob("docs/*.md")
	n := 0
	for _, page := range append([]string{"README.md"}, pages...) {
		data, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(data), "\n")
		for i, l := range lines {
			if !strings.HasPrefix(l, "$ kubectl get egw") || i+1 == len(lines) || strings.HasPrefix(lines[i+1], "```") {
				continue
			}
			n++
			if got := strings.Fields(lines[i+1]); strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("%s:%d: kubectl get egw shows columns %v, the CRD %v", page, i+2, got, want)
			}
		}
	}
	if n == 0 {
		t.Error("no kubectl get egw example found: is the parser broken?")
	}
}

// handlesSubcommand reports whether a hack/ script dispatches on sub (a
// "sub)" case), or a hack/ Go command names it as a string.
func handlesSubcommand(path, sub string) bool {
	if info, err := os.Stat(path); err == nil && !info.IsDir() {
		data, _ := os.ReadFile(path)
		return strings.Contains(string(data), " "+sub+")")
	}
	files, _ := filepath.Glob(filepath.Join(path, "*.go"))
	for _, f := range files {
		if data, _ := os.ReadFile(f); strings.Contains(string(data), `"`+sub+`"`) {
			return true
		}
	}
	return false
}

// recipeVariables returns the variables the recipe of target reads:
// those it expands, and those their default values expand in turn.
func recipeVariables(makefile, target string) map[string]bool {
	defaults := map[string]string{}
	var recipe strings.Builder
	in := false
	for l := range strings.SplitSeq(makefile, "\n") {
		if name, value, ok := strings.Cut(l, "?="); ok && !strings.HasPrefix(l, "\t") {
			defaults[strings.TrimSpace(name)] = value
		}
		switch {
		case strings.HasPrefix(l, target+":"):
			in = true
		case in && strings.HasPrefix(l, "\t"):
			recipe.WriteString(l + "\n")
		default:
			in = false
		}
	}
	reads := map[string]bool{}
	var expand func(string)
	expand = func(text string) {
		for _, m := range makeExpansion.FindAllStringSubmatch(text, -1) {
			if !reads[m[1]] {
				reads[m[1]] = true
				expand(defaults[m[1]])
			}
		}
	}
	expand(recipe.String())
	return reads
}

var (
	docHackCommand = regexp.MustCompile("(?m)(?:^|`|[$] )(hack/[a-z][a-z0-9._-]*) ([a-z][a-z0-9-]*)")
	docMakeVars    = regexp.MustCompile(`make ([a-z][a-z0-9-]*)((?: +[A-Z][A-Z0-9_]*=\S+)+)`)
	docMakeVar     = regexp.MustCompile(`([A-Z][A-Z0-9_]*)=`)
	makeExpansion  = regexp.MustCompile(`\$[({]([A-Za-z_][A-Za-z0-9_]*)[)}]`)
	docMake        = regexp.MustCompile("(?:^|[`$ ])make ([a-z][a-z0-9-]*)")
	docPath        = regexp.MustCompile(`\b((?:hack|config)/[A-Za-z0-9_./-]*[A-Za-z0-9_-])`)
	docKustomize   = regexp.MustCompile(`kubectl apply -k ([A-Za-z0-9_./-]+)`)
)

// TestDocReferences checks what the pages tell a user to run that a unit
// test cannot run itself: every "make X" is a target of the Makefile, every
// "hack/X sub" a subcommand the script or command handles, every
// variable a page sets on a make command line is one that target's recipe
// reads, every hack/ or config/ path exists, and every directory given to
// "kubectl apply -k" builds with kustomize.
func TestDocReferences(t *testing.T) {
	t.Chdir("../..")
	makefile, err := os.ReadFile("Makefile")
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string]bool{}
	for l := range strings.SplitSeq(string(makefile), "\n") {
		if name, _, ok := strings.Cut(l, ":"); ok && name != "" && !strings.ContainsAny(name, " \t$=.") {
			targets[name] = true
		}
	}
	pages, _ := filepath.Glob("docs/*.md")
	for _, page := range append([]string{"README.md"}, pages...) {
		data, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		text := string(data)
		for _, m := range docMake.FindAllStringSubmatch(text, -1) {
			if !targets[m[1]] {
				t.Errorf("%s: \"make %s\": the Makefile has no target %s", page, m[1], m[1])
			}
		}
		for _, m := range docMakeVars.FindAllStringSubmatch(strings.ReplaceAll(text, "\\\n", " "), -1) {
			reads := recipeVariables(string(makefile), m[1])
			for _, v := range docMakeVar.FindAllStringSubmatch(m[2], -1) {
				if !reads[v[1]] {
					t.Errorf("%s: \"make %s %s=...\": the recipe of %s does not read %s", page, m[1], v[1], m[1], v[1])
				}
			}
		}
		for _, m := range docHackCommand.FindAllStringSubmatch(text, -1) {
			if !handlesSubcommand(m[1], m[2]) {
				t.Errorf("%s: \"%s %s\": %s has no %s subcommand", page, m[1], m[2], m[1], m[2])
			}
		}
		for _, m := range docPath.FindAllStringSubmatch(text, -1) {
			if _, err := os.Stat(strings.TrimSuffix(m[1], ".")); err != nil {
				t.Errorf("%s: %s does not exist", page, m[1])
			}
		}
		for _, m := range docKustomize.FindAllStringSubmatch(text, -1) {
			k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
			if _, err := k.Run(filesys.MakeFsOnDisk(), m[1]); err != nil {
				t.Errorf("%s: kubectl apply -k %s: kustomize cannot build it: %v", page, m[1], err)
			}
		}
	}
}

package main

import (
	"go/version"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The top-level Dockerfile builds the image `make image` builds: the same
// base (none), user, entrypoint, labels, CA bundle and go build command.
func TestDockerfileMatchesBuilder(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	const ver, rev = "9.8.7", "fedcba9876543210fedcba9876543210fedcba98"
	df, err := parseDockerfile(string(src), map[string]string{
		"VERSION": ver, "REVISION": rev, "TARGETOS": "linux", "TARGETARCH": "arm64", "BUILDPLATFORM": "linux/amd64",
	})
	if err != nil {
		t.Fatal(err)
	}
	final := df.last()
	if final.Base != "scratch" {
		t.Errorf("the last stage is FROM %s, want scratch: the Go builder's image has no base", final.Base)
	}

	users := final.find("USER")
	if len(users) != 1 {
		t.Fatalf("the last stage has %d USER instructions, want 1", len(users))
	}
	if u, err := shellWords(users[0].Args, final.Args); err != nil || len(u) != 1 || u[0] != imageUser {
		t.Errorf("USER %s, want %s (%v)", users[0].Args, imageUser, err)
	}

	eps := final.find("ENTRYPOINT")
	if len(eps) != 1 {
		t.Fatalf("the last stage has %d ENTRYPOINT instructions, want 1", len(eps))
	}
	if words, ok := execForm(eps[0].Args); !ok || !slices.Equal(words, []string{binaryPath}) {
		t.Errorf("ENTRYPOINT %s, want the exec form [%q]: there is no shell to run a shell form", eps[0].Args, binaryPath)
	}
	for _, cmd := range []string{"CMD", "RUN", "SHELL", "WORKDIR", "ENV", "ADD", "HEALTHCHECK", "ONBUILD", "VOLUME", "EXPOSE", "STOPSIGNAL"} {
		if got := final.find(cmd); len(got) != 0 {
			t.Errorf("the last stage has %s (line %d), which the Go builder's image has not", cmd, got[0].Line)
		}
	}

	labels, err := final.labels()
	if err != nil {
		t.Fatal(err)
	}
	if want := imageLabels(ver, rev); !mapsEqual(labels, want) {
		t.Errorf("the Dockerfile's labels with VERSION=%s REVISION=%s:\n%v\nthe Go builder's:\n%v", ver, rev, labels, want)
	}

	// The last stage copies one directory, the build stage's rootfs, to /.
	copies := final.find("COPY")
	if len(copies) != 1 {
		t.Fatalf("the last stage has %d COPY instructions, want 1 (the rootfs)", len(copies))
	}
	cp := copies[0]
	words, err := shellWords(cp.Args, final.Args)
	if err != nil {
		t.Fatal(err)
	}
	from := df.stageNamed(cp.Flags["from"])
	if from == nil || !slices.Equal(words, []string{"/out/rootfs/", "/"}) || cp.Flags["chown"] != "" || cp.Flags["chmod"] != "" {
		t.Fatalf("COPY %v %s: want COPY --from=<build stage> /out/rootfs/ / (files root-owned, modes as built)", cp.Flags, cp.Args)
	}
	checkBuildStage(t, from, "/out/rootfs", ver)
}

// checkBuildStage checks that the build stage writes, under rootfs, the CA
// bundle with hack/image's code and the manager with the Go builder's
// flags and environment, from a Go at least as new as go.mod's.
func checkBuildStage(t *testing.T, st *stage, rootfs, ver string) {
	t.Helper()
	if st.Platform != "$BUILDPLATFORM" {
		t.Errorf("the build stage's platform %q, want $BUILDPLATFORM (cross-compile; never emulate)", st.Platform)
	}
	goVersion := strings.TrimPrefix(st.Base, "golang:")
	goVersion, _, _ = strings.Cut(goVersion, "-")
	modGo := goModDirective(t)
	if !strings.HasPrefix(st.Base, "golang:") || !version.IsValid("go"+goVersion) || version.Compare("go"+goVersion, "go"+modGo) < 0 {
		t.Errorf("the build stage is FROM %s; want golang:<version>, at least go.mod's go %s", st.Base, modGo)
	}

	var rootfsRun, buildRun []string
	for _, run := range st.find("RUN") {
		words, err := shellWords(run.Args, st.Args)
		if err != nil {
			t.Fatalf("line %d: %v", run.Line, err)
		}
		switch i := slices.Index(words, "go"); {
		case i >= 0 && i+1 < len(words) && words[i+1] == "build":
			buildRun = words
		case i >= 0 && i+2 < len(words) && words[i+1] == "run" && words[i+2] == "./hack/image":
			rootfsRun = words[i:]
		}
	}
	if want := []string{"go", "run", "./hack/image", "rootfs", rootfs}; !slices.Equal(rootfsRun, want) {
		t.Errorf("the build stage's CA bundle: RUN %q, want RUN %q", rootfsRun, want)
	}
	if buildRun == nil {
		t.Fatal("the build stage has no RUN ... go build")
	}
	i := slices.Index(buildRun, "go")
	env, args := buildRun[:i], buildRun[i+2:]
	if want := goBuildEnv(st.Args["TARGETOS"], st.Args["TARGETARCH"]); !slices.Equal(env, want) {
		t.Errorf("go build's environment %q, want the Go builder's %q", env, want)
	}
	want := append(goBuildFlags(ver), "-o", rootfs+binaryPath, managerPackage)
	if !slices.Equal(args, want) {
		t.Errorf("go build %q, want the Go builder's go build %q", args, want)
	}
}

var goDirectiveRE = regexp.MustCompile(`(?m)^go\s+(\S+)\s*$`)

func goModDirective(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := goDirectiveRE.FindSubmatch(b)
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	return string(m[1])
}

// The build stage copies every directory the manager and hack/image compile
// from (and the go:embed files in them): a new top-level package would
// otherwise build here and fail in docker build.
func TestDockerfileCopiesSources(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df, err := parseDockerfile(string(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	st := df.stageNamed(df.last().find("COPY")[0].Flags["from"])
	if st == nil {
		t.Fatal("no build stage")
	}
	var copied []string
	for _, c := range st.find("COPY") {
		if c.Flags["from"] != "" {
			continue
		}
		words, err := shellWords(c.Args, st.Args)
		if err != nil || len(words) < 2 {
			t.Fatalf("line %d: COPY %s: %v", c.Line, c.Args, err)
		}
		for _, w := range words[:len(words)-1] {
			copied = append(copied, strings.TrimSuffix(strings.TrimPrefix(w, "./"), "/"))
		}
	}
	for _, f := range []string{"go.mod", "go.sum"} {
		if !slices.Contains(copied, f) {
			t.Errorf("the build stage does not copy %s", f)
		}
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if .Module}}{{if .Module.Main}}{{.Dir}}{{end}}{{end}}", "../../cmd/manager", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for dir := range strings.FieldsSeq(string(out)) {
		rel, err := filepath.Rel(root, dir)
		if err != nil {
			t.Fatal(err)
		}
		rel = filepath.ToSlash(rel)
		covered := slices.ContainsFunc(copied, func(c string) bool {
			return c == "." || rel == c || strings.HasPrefix(rel, c+"/")
		})
		if !covered {
			t.Errorf("the build stage copies none of %s, which the image compiles from (copied: %v)", rel, copied)
		}
	}
}

// The test parser itself, on what a Dockerfile may say.
func TestDockerfileParser(t *testing.T) {
	src := `# syntax=docker/dockerfile:1
# escape=\
ARG GO=1.26
ARG UNSET
FROM --platform=$BUILDPLATFORM golang:${GO} AS Build
ARG GO
RUN echo a \
# a comment inside a continuation goes
    b

FROM scratch
ARG V=1 R
LABEL a=b "c d"="e f" g='$V' h="${V}" i=$V j="x\"y" k=${R:-none} l=${V:+set}
LABEL old value with spaces
USER 1000:1000
ENTRYPOINT ["/bin/x", "-y"]
CMD /bin/x -y
`
	df, err := parseDockerfile(src, map[string]string{"V": "2", "BUILDPLATFORM": "linux/amd64"})
	if err != nil {
		t.Fatal(err)
	}
	if len(df.Stages) != 2 {
		t.Fatalf("%d stages", len(df.Stages))
	}
	b := df.Stages[0]
	if b.Base != "golang:1.26" || b.Name != "build" || b.Platform != "$BUILDPLATFORM" || b.Args["GO"] != "1.26" {
		t.Errorf("first stage %+v", b)
	}
	if runs := b.find("RUN"); len(runs) != 1 || strings.Join(strings.Fields(runs[0].Args), " ") != "echo a b" || runs[0].Line != 7 {
		t.Errorf("RUN %+v", runs)
	}
	if df.stageNamed("build") != b {
		t.Error("stageNamed(build)")
	}
	last := df.last()
	labels, err := last.labels()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "b", "c d": "e f", "g": "$V", "h": "2", "i": "2", "j": `x"y`, "k": "none", "l": "set", "old": "value with spaces"}
	if !mapsEqual(labels, want) {
		t.Errorf("labels %v, want %v", labels, want)
	}
	if words, ok := execForm(last.find("ENTRYPOINT")[0].Args); !ok || !slices.Equal(words, []string{"/bin/x", "-y"}) {
		t.Errorf("ENTRYPOINT %v %v", words, ok)
	}
	if _, ok := execForm(last.find("CMD")[0].Args); ok {
		t.Error("a shell-form CMD read as exec form")
	}
	if _, ok := execForm(`["/bin/x", ]`); ok {
		t.Error("malformed JSON read as exec form")
	}

	for _, bad := range []string{
		"RUN echo\n",                       // before FROM
		"FROM a\nRUN x \\\n",               // ends in a continuation
		"FROM a\nLABEL a=\"b\n",            // unterminated quote
		"FROM a\nLABEL novalue\n",          // not key=value
		"FROM a\nRUN <<EOF\nx\nEOF\n",      // heredoc
		"# escape=`\nFROM a\n",             // another escape character
		"FROM a b c d\n",                   // FROM's words
		"FROM a\nLABEL a=${B:?required}\n", // a variable form not read
	} {
		df, err := parseDockerfile(bad, nil)
		if err == nil {
			if _, err = df.last().labels(); err == nil {
				t.Errorf("accepted %q", bad)
			}
		}
	}
}

package helmrelease

import (
	"fmt"
	"io/fs"
	"path"

	"github.com/Masterminds/semver/v3"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
)

// LoadChart loads the chart whose files are at the root of fsys and stamps
// it with version, the operator's version, so a new operator upgrades every
// release exactly once. A version that is not SemVer (a development build)
// becomes 0.0.0-dev.
func LoadChart(fsys fs.FS, version string) (*chart.Chart, error) {
	var files []*loader.BufferedFile
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		files = append(files, &loader.BufferedFile{Name: path.Clean(p), Data: data})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading chart files: %w", err)
	}
	c, err := loader.LoadFiles(files)
	if err != nil {
		return nil, fmt.Errorf("loading chart: %w", err)
	}
	v, err := semver.StrictNewVersion(trimV(version))
	if err != nil {
		v = semver.MustParse("0.0.0-dev")
	}
	c.Metadata.Version = v.String()
	c.Metadata.AppVersion = v.String()
	return c, nil
}

func trimV(v string) string {
	if len(v) > 0 && v[0] == 'v' {
		return v[1:]
	}
	return v
}

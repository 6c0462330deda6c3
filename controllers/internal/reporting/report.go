package reporting

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	egressv1alpha1 "github.com/ambient-egress/ambient-egress-operator/apis/egress/v1alpha1"
	"github.com/ambient-egress/ambient-egress-operator/simulator/reach"
)

// maxReportBytes keeps the ConfigMap under the API server's 1 MiB object
// limit with room for its metadata.
const maxReportBytes = 1000 << 10

// ErrReportTooLarge is returned when even the compressed report does not fit
// a ConfigMap.
var ErrReportTooLarge = errors.New("the compressed report does not fit a ConfigMap")

// ReportName is the name of the report ConfigMap of an EgressGateway.
func ReportName(gateway string) string { return gateway + "-report" }

// ReportConfigMap renders the full report as the ConfigMap named name: the
// JSON in data, or gzip-compressed in binaryData when the JSON is too large.
// The caller sets the owner.
func ReportConfigMap(namespace, name, digest string, labels map[string]string, report *reach.Report) (*corev1.ConfigMap, error) {
	// Called directly: json.Marshal would validate and compact the
	// megabytes the report's own encoder just wrote.
	data, err := report.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encoding the report: %w", err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{
		Namespace: namespace, Name: name, Labels: labels,
		Annotations: map[string]string{egressv1alpha1.InputsDigestAnnotation: digest},
	}}
	if len(data) <= maxReportBytes {
		cm.Data = map[string]string{egressv1alpha1.ReportKey: string(data)}
		return cm, nil
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		return nil, fmt.Errorf("compressing the report: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compressing the report: %w", err)
	}
	if buf.Len() > maxReportBytes {
		return nil, fmt.Errorf("%w: %d bytes of JSON, %d compressed", ErrReportTooLarge, len(data), buf.Len())
	}
	cm.BinaryData = map[string][]byte{egressv1alpha1.CompressedReportKey: buf.Bytes()}
	return cm, nil
}

package v1alpha1

// The report ConfigMap (status.simulation.reportConfigMap) holds the full
// reachability report when the status holds only part of it. Its keys and
// annotation are part of the API: egressctl report and other tools read
// them.
const (
	// ReportKey holds the report's JSON, the output of egressctl simulate
	// -o json, when it fits a ConfigMap as is.
	ReportKey = "report.json"
	// CompressedReportKey holds the gzip-compressed JSON in binaryData
	// when the plain JSON does not fit.
	CompressedReportKey = "report.json.gz"
	// InputsDigestAnnotation is the inputs digest the report was computed
	// from; it matches status.simulation.inputsDigest when the ConfigMap is
	// current.
	InputsDigestAnnotation = "egress.ambient.io/inputs-digest"
)

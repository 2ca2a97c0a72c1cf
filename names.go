package mgmt

// MaxServiceName is the longest service name, in bytes.
const MaxServiceName = 63

// ValidateServiceName checks the name of a service that rules and budget
// caps act on: a DNS-1123 label, as Kubernetes names Services and
// Deployments — 1–63 lower-case letters, digits and '-', starting and
// ending with a letter or digit ("eligibility-api"). So a name is always
// one path segment: ".." or "a/b" are not names. Errors are of kind
// invalid and name field.
func ValidateServiceName(field, s string) error {
	if s == "" {
		return Invalid(field, "is required")
	}
	if p := textProblem(s); p != "" {
		return Invalid(field, "%s", p)
	}
	if len(s) > MaxServiceName {
		return Invalid(field, "is %d bytes, more than %d", len(s), MaxServiceName)
	}
	if !isDNSLabel(s) {
		return Invalid(field, "%q is not a service name: use lower-case letters, digits and '-', starting and ending with a letter or digit (a DNS-1123 label)", s)
	}
	return nil
}

// ValidateText checks free text such as a reason or an author: valid
// UTF-8 (a lone surrogate cannot be in valid UTF-8) and, when oneLine, no
// control characters; multi-line text may hold tabs and line breaks
// ("\t", "\n", "\r") but no other control character. Errors name field.
func ValidateText(field, s string, oneLine bool) error {
	if !isValidUTF8(s) {
		return Invalid(field, "is not valid UTF-8")
	}
	for _, r := range s {
		if r < 0x20 || r >= 0x7f && r < 0xa0 {
			if !oneLine && (r == '\t' || r == '\n' || r == '\r') {
				continue
			}
			return Invalid(field, "contains a control character (%U)", r)
		}
	}
	return nil
}

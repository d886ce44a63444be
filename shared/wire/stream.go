package wire

import "errors"

// MaxStreamName is the longest stream name accepted anywhere.
const MaxStreamName = 64

var (
	errStreamEmpty   = errors.New("stream name is empty")
	errStreamLong    = errors.New("stream name is longer than 64 bytes")
	errStreamCharset = errors.New("stream name may hold only a-z, 0-9, '.', '_' and '-', and must start with a letter or digit")
)

// ValidStream checks a stream name: 1–64 bytes of [a-z0-9._-], starting with a
// letter or digit. Names never contain '/' or ':' so that no name can address
// another tenant's key space.
func ValidStream(name string) error {
	if name == "" {
		return errStreamEmpty
	}
	if len(name) > MaxStreamName {
		return errStreamLong
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '.' || c == '_' || c == '-') && i > 0:
		default:
			return errStreamCharset
		}
	}
	return nil
}

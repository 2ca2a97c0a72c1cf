package mgmt

import (
	"math"
	"math/bits"
	"strconv"
	"strings"
)

// Money is an amount of US dollars in integer cents (minor units). It is
// never a float: arithmetic is exact and every operation that could overflow
// reports it instead of wrapping.
//
// In JSON a Money is a decimal number of dollars with at most two decimals
// (12.5, 10000, 0.07); decoding accepts a JSON number or string and rejects
// more precision, exponents, NaN and anything that does not fit.
type Money int64

// Currency is the only currency the module handles.
const Currency = "USD"

// ErrOverflow is wrapped by every Money operation whose result does not fit.
var ErrOverflow = Errorf(KindInvalid, "", "amount out of range")

// Cents returns m as an integer number of cents.
func (m Money) Cents() int64 { return int64(m) }

// Dollars returns m as a whole number of dollars, truncated toward zero, and
// the remaining cents.
func (m Money) Dollars() (dollars, cents int64) { return int64(m) / 100, int64(m) % 100 }

// Add returns m+n or an error when the sum overflows.
func (m Money) Add(n Money) (Money, error) {
	s := m + n
	if (n > 0 && s < m) || (n < 0 && s > m) {
		return 0, ErrOverflow
	}
	return s, nil
}

// Sub returns m-n or an error when the difference overflows.
func (m Money) Sub(n Money) (Money, error) {
	d := m - n
	if (n > 0 && d > m) || (n < 0 && d < m) {
		return 0, ErrOverflow
	}
	return d, nil
}

// MulDiv returns m×num/den rounded half away from zero, computed in 128 bits
// so that intermediate products do not overflow. den must be positive.
func (m Money) MulDiv(num, den int64) (Money, error) {
	if den <= 0 {
		return 0, Errorf(KindInvalid, "", "MulDiv: denominator %d is not positive", den)
	}
	neg := (m < 0) != (num < 0)
	a, b := absU(int64(m)), absU(num)
	hi, lo := bits.Mul64(a, b)
	if hi >= uint64(den) {
		return 0, ErrOverflow
	}
	q, r := bits.Div64(hi, lo, uint64(den))
	limit := uint64(math.MaxInt64) // largest magnitude the result may have
	if neg {
		limit++ // math.MinInt64 fits
	}
	if q > limit {
		return 0, ErrOverflow
	}
	if r >= uint64(den)-r { // r ≥ den/2: round half away from zero
		if q == limit {
			return 0, ErrOverflow
		}
		q++
	}
	if neg {
		return Money(-int64(q)), nil
	}
	return Money(q), nil
}

func absU(v int64) uint64 {
	if v < 0 {
		return uint64(-(v + 1)) + 1
	}
	return uint64(v)
}

// String formats m as dollars with two decimals, such as "1234.50" or "-0.07".
func (m Money) String() string {
	return string(m.appendDecimal(nil))
}

func (m Money) appendDecimal(b []byte) []byte {
	u := absU(int64(m))
	if m < 0 {
		b = append(b, '-')
	}
	b = strconv.AppendUint(b, u/100, 10)
	c := u % 100
	return append(b, '.', byte('0'+c/10), byte('0'+c%10))
}

// MarshalJSON writes m as a JSON number of dollars with two decimals.
func (m Money) MarshalJSON() ([]byte, error) { return m.appendDecimal(nil), nil }

// UnmarshalJSON reads a JSON number or string of dollars with at most two
// decimals.
func (m *Money) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	v, err := ParseDollars(s)
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// ParseDollars parses a decimal number of dollars such as "10000", "12.5" or
// "-3.07" into Money. It rejects more than two decimals, exponents, signs
// other than a leading '-', thousands separators, empty input and values that
// do not fit in int64 cents.
func ParseDollars(s string) (Money, error) {
	orig := s
	if s == "" {
		return 0, Errorf(KindInvalid, "", "empty amount")
	}
	neg := false
	if s[0] == '-' {
		neg, s = true, s[1:]
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || (hasDot && frac == "") {
		return 0, Errorf(KindInvalid, "", "amount %q is not a decimal number of dollars", orig)
	}
	var cents uint64
	for _, part := range []string{whole, frac} {
		for i := 0; i < len(part); i++ {
			c := part[i]
			if c < '0' || c > '9' {
				return 0, Errorf(KindInvalid, "", "amount %q is not a decimal number of dollars", orig)
			}
		}
	}
	if len(frac) > 2 {
		return 0, Errorf(KindInvalid, "", "amount %q has more than two decimals", orig)
	}
	limit := uint64(math.MaxInt64) // largest number of cents
	if neg {
		limit++ // math.MinInt64 fits
	}
	w, err := strconv.ParseUint(whole, 10, 64)
	if err != nil || w > limit/100 {
		return 0, Errorf(KindInvalid, "", "amount %q: %w", orig, ErrOverflow)
	}
	cents = w * 100
	switch len(frac) {
	case 1:
		cents += uint64(frac[0]-'0') * 10
	case 2:
		cents += uint64(frac[0]-'0')*10 + uint64(frac[1]-'0')
	}
	if cents > limit {
		return 0, Errorf(KindInvalid, "", "amount %q: %w", orig, ErrOverflow)
	}
	if neg {
		return Money(-int64(cents)), nil
	}
	return Money(cents), nil
}

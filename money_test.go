package mgmt_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hms-platform/mgmt"
)

const (
	maxMoney = mgmt.Money(math.MaxInt64)
	minMoney = mgmt.Money(math.MinInt64)
)

func TestCurrency(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "USD", mgmt.Currency)
}

func TestErrOverflow(t *testing.T) {
	t.Parallel()
	assert.Equal(t, mgmt.KindInvalid, mgmt.KindOf(mgmt.ErrOverflow))
	assert.ErrorIs(t, mgmt.ErrOverflow, mgmt.ErrInvalid)
	assert.Empty(t, mgmt.FieldOf(mgmt.ErrOverflow))
	assert.Equal(t, "amount out of range", mgmt.ErrOverflow.Error())
}

func TestParseDollarsValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want mgmt.Money
	}{
		{"0", 0},
		{"0.0", 0},
		{"0.00", 0},
		{"-0", 0},
		{"-0.00", 0},
		{"1", 100},
		{"10000", 1_000_000},
		{"12.5", 1250},
		{"12.50", 1250},
		{"12.05", 1205},
		{"0.07", 7},
		{"0.7", 70},
		{"007.10", 710},
		{"-3.10", -310},
		{"-3.07", -307},
		{"-0.01", -1},
		{"-12.5", -1250},
		{"00000000000000000000000000001", 100}, // leading zeros are not digits of value
		{"92233720368547758.07", maxMoney},
		{"-92233720368547758.07", -maxMoney},
		{"-92233720368547758.08", minMoney},
		{"92233720368547758", 9223372036854775800},
		{"-92233720368547758", -9223372036854775800},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := mgmt.ParseDollars(tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseDollarsInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		in       string
		overflow bool   // the error wraps ErrOverflow
		msg      string // a substring of the message
	}{
		{"empty", "", false, "empty amount"},
		{"three decimals", "1.234", false, "more than two decimals"},
		{"three zero decimals", "1.000", false, "more than two decimals"},
		{"many decimals", "0.0000001", false, "more than two decimals"},
		{"negative three decimals", "-1.001", false, "more than two decimals"},
		{"exponent", "1e3", false, "not a decimal number"},
		{"capital exponent", "1E3", false, "not a decimal number"},
		{"exponent with dot", "1.5e2", false, "not a decimal number"},
		{"NaN", "NaN", false, "not a decimal number"},
		{"Inf", "Inf", false, "not a decimal number"},
		{"minus Inf", "-Inf", false, "not a decimal number"},
		{"leading space", " 1", false, "not a decimal number"},
		{"trailing space", "1 ", false, "not a decimal number"},
		{"trailing newline", "1\n", false, "not a decimal number"},
		{"thousands comma", "1,000", false, "not a decimal number"},
		{"thousands underscore", "1_000", false, "not a decimal number"},
		{"thousands space", "1 000", false, "not a decimal number"},
		{"decimal comma", "1,5", false, "not a decimal number"},
		{"plus sign", "+1", false, "not a decimal number"},
		{"double minus", "--1", false, "not a decimal number"},
		{"minus after digits", "1-", false, "not a decimal number"},
		{"minus only", "-", false, "not a decimal number"},
		{"dot only", ".", false, "not a decimal number"},
		{"leading dot", ".5", false, "not a decimal number"},
		{"minus leading dot", "-.5", false, "not a decimal number"},
		{"trailing dot", "5.", false, "not a decimal number"},
		{"two dots", "1.2.3", false, "not a decimal number"},
		{"letters after dot", "1.abc", false, "not a decimal number"},
		{"dollar sign", "$5", false, "not a decimal number"},
		{"currency suffix", "5USD", false, "not a decimal number"},
		{"hex", "0x10", false, "not a decimal number"},
		{"minus in fraction", "1.-5", false, "not a decimal number"},
		{"arabic-indic digit", "\u0661", false, "not a decimal number"},
		{"fullwidth digit", "\uff11", false, "not a decimal number"},
		{"NUL", "1\x00", false, "not a decimal number"},
		{"quoted", `"1"`, false, "not a decimal number"},
		{"max plus one cent", "92233720368547758.08", true, "out of range"},
		{"min minus one cent", "-92233720368547758.09", true, "out of range"},
		{"max whole plus one", "92233720368547759", true, "out of range"},
		{"max uint64 dollars", "18446744073709551615", true, "out of range"},
		{"beyond uint64", "18446744073709551616", true, "out of range"},
		{"huge", "1000000000000000000000000000000", true, "out of range"},
		{"huge negative", "-1000000000000000000000000000000.99", true, "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := mgmt.ParseDollars(tt.in)
			require.Error(t, err)
			assert.Zero(t, got)
			assert.ErrorIs(t, err, mgmt.ErrInvalid)
			assert.Equal(t, mgmt.KindInvalid, mgmt.KindOf(err))
			assert.Empty(t, mgmt.FieldOf(err))
			var me *mgmt.Error
			require.ErrorAs(t, err, &me)
			assert.Equal(t, mgmt.KindInvalid, me.Kind)
			if tt.overflow {
				assert.ErrorIs(t, err, mgmt.ErrOverflow)
			} else {
				assert.NotErrorIs(t, err, mgmt.ErrOverflow)
			}
			assert.Contains(t, err.Error(), tt.msg)
			if tt.in != "" {
				assert.Contains(t, err.Error(), `"`, "the message quotes the input")
			}
		})
	}
}

func TestMoneyString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		m    mgmt.Money
		want string
	}{
		{0, "0.00"},
		{1, "0.01"},
		{7, "0.07"},
		{10, "0.10"},
		{99, "0.99"},
		{100, "1.00"},
		{123450, "1234.50"},
		{1_000_000, "10000.00"},
		{-1, "-0.01"},
		{-7, "-0.07"},
		{-100, "-1.00"},
		{-310, "-3.10"},
		{maxMoney, "92233720368547758.07"},
		{-maxMoney, "-92233720368547758.07"},
		{minMoney, "-92233720368547758.08"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.want, tt.m.String())
			assert.Equal(t, tt.want, fmt.Sprint(tt.m), "fmt uses String")
			b, err := tt.m.MarshalJSON()
			require.NoError(t, err)
			assert.Equal(t, tt.want, string(b), "JSON is the same decimal")
			back, err := mgmt.ParseDollars(tt.m.String())
			require.NoError(t, err)
			assert.Equal(t, tt.m, back)
		})
	}
}

func TestMoneyCentsDollars(t *testing.T) {
	t.Parallel()
	tests := []struct {
		m              mgmt.Money
		dollars, cents int64
	}{
		{0, 0, 0},
		{7, 0, 7},
		{1234, 12, 34},
		{-7, 0, -7},
		{-1234, -12, -34},
		{maxMoney, 92233720368547758, 7},
		{minMoney, -92233720368547758, -8},
	}
	for _, tt := range tests {
		t.Run(tt.m.String(), func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, int64(tt.m), tt.m.Cents())
			d, c := tt.m.Dollars()
			assert.Equal(t, tt.dollars, d)
			assert.Equal(t, tt.cents, c)
			assert.Equal(t, tt.m.Cents(), d*100+c)
		})
	}
}

type invoice struct {
	Amount mgmt.Money  `json:"amount"`
	Tax    *mgmt.Money `json:"tax,omitempty"`
}

func TestMoneyJSONRoundTrip(t *testing.T) {
	t.Parallel()
	for _, m := range []mgmt.Money{0, 1, 7, 50, 1250, 1_000_000, -1, -307, maxMoney, minMoney} {
		t.Run(m.String(), func(t *testing.T) {
			t.Parallel()
			tax := m
			b, err := json.Marshal(invoice{Amount: m, Tax: &tax})
			require.NoError(t, err)
			assert.JSONEq(t, `{"amount":`+m.String()+`,"tax":`+m.String()+`}`, string(b))

			var got invoice
			require.NoError(t, json.Unmarshal(b, &got))
			assert.Equal(t, m, got.Amount)
			require.NotNil(t, got.Tax)
			assert.Equal(t, m, *got.Tax)
		})
	}
}

func TestMoneyMarshalJSONIsNumber(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(map[string]mgmt.Money{"a": 1250, "b": -7})
	require.NoError(t, err)
	var raw map[string]any
	require.NoError(t, json.Unmarshal(b, &raw))
	assert.Equal(t, 12.5, raw["a"], "dollars, not cents, and a number, not a string")
	assert.Equal(t, -0.07, raw["b"])
}

func TestMoneyUnmarshalJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		json     string
		want     mgmt.Money
		overflow bool
		wantErr  bool
	}{
		{name: "integer", json: `10000`, want: 1_000_000},
		{name: "one decimal", json: `12.5`, want: 1250},
		{name: "two decimals", json: `0.07`, want: 7},
		{name: "negative", json: `-3.07`, want: -307},
		{name: "zero", json: `0`, want: 0},
		{name: "negative zero", json: `-0`, want: 0},
		{name: "string", json: `"12.50"`, want: 1250},
		{name: "negative string", json: `"-0.01"`, want: -1},
		{name: "min", json: `-92233720368547758.08`, want: minMoney},
		{name: "max string", json: `"92233720368547758.07"`, want: maxMoney},
		{name: "three decimals", json: `12.505`, wantErr: true},
		{name: "three decimals string", json: `"12.505"`, wantErr: true},
		{name: "exponent", json: `1e3`, wantErr: true},
		{name: "exponent string", json: `"1e3"`, wantErr: true},
		{name: "NaN string", json: `"NaN"`, wantErr: true},
		{name: "empty string", json: `""`, wantErr: true},
		{name: "padded string", json: `" 1"`, wantErr: true},
		{name: "thousands string", json: `"1,000"`, wantErr: true},
		{name: "escaped string", json: `"\u0031"`, wantErr: true},
		{name: "true", json: `true`, wantErr: true},
		{name: "object", json: `{}`, wantErr: true},
		{name: "array", json: `[1]`, wantErr: true},
		{name: "overflow", json: `92233720368547758.08`, wantErr: true, overflow: true},
		{name: "overflow string", json: `"-92233720368547758.09"`, wantErr: true, overflow: true},
		{name: "huge", json: `1e400`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got invoice
			err := json.Unmarshal([]byte(`{"amount":`+tt.json+`}`), &got)
			if !tt.wantErr {
				require.NoError(t, err)
				assert.Equal(t, tt.want, got.Amount)
				return
			}
			require.Error(t, err)
			assert.Zero(t, got.Amount, "a rejected amount is not stored")
			if tt.overflow {
				assert.ErrorIs(t, err, mgmt.ErrOverflow)
			}
		})
	}
}

func TestMoneyUnmarshalJSONDirect(t *testing.T) {
	t.Parallel()
	m := mgmt.Money(42)
	err := m.UnmarshalJSON([]byte(`1.234`))
	require.Error(t, err)
	assert.ErrorIs(t, err, mgmt.ErrInvalid)
	assert.Equal(t, mgmt.KindInvalid, mgmt.KindOf(err))
	assert.Equal(t, mgmt.Money(42), m, "a failed decode leaves the value alone")

	require.NoError(t, m.UnmarshalJSON([]byte(`"9.99"`)))
	assert.Equal(t, mgmt.Money(999), m)

	require.Error(t, m.UnmarshalJSON([]byte(`"9.99`)), "an unbalanced quote is not a string")
	require.Error(t, m.UnmarshalJSON([]byte(`"`)))
}

func TestMoneyAdd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		m, n     mgmt.Money
		want     mgmt.Money
		overflow bool
	}{
		{name: "zero", m: 0, n: 0, want: 0},
		{name: "positive", m: 1250, n: 7, want: 1257},
		{name: "negative result", m: 5, n: -10, want: -5},
		{name: "max plus zero", m: maxMoney, n: 0, want: maxMoney},
		{name: "max plus min", m: maxMoney, n: minMoney, want: -1},
		{name: "min plus max", m: minMoney, n: maxMoney, want: -1},
		{name: "up to max", m: maxMoney - 1, n: 1, want: maxMoney},
		{name: "down to min", m: minMoney + 1, n: -1, want: minMoney},
		{name: "max plus one", m: maxMoney, n: 1, overflow: true},
		{name: "one plus max", m: 1, n: maxMoney, overflow: true},
		{name: "max plus max", m: maxMoney, n: maxMoney, overflow: true},
		{name: "min minus one", m: minMoney, n: -1, overflow: true},
		{name: "min plus min", m: minMoney, n: minMoney, overflow: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.m.Add(tt.n)
			if tt.overflow {
				require.ErrorIs(t, err, mgmt.ErrOverflow)
				assert.ErrorIs(t, err, mgmt.ErrInvalid)
				assert.Zero(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			// Addition commutes, overflow or not.
			got2, err := tt.n.Add(tt.m)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got2)
		})
	}
}

func TestMoneySub(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		m, n     mgmt.Money
		want     mgmt.Money
		overflow bool
	}{
		{name: "zero", m: 0, n: 0, want: 0},
		{name: "positive", m: 1250, n: 50, want: 1200},
		{name: "negative result", m: 5, n: 10, want: -5},
		{name: "minus negative", m: 5, n: -10, want: 15},
		{name: "max minus max", m: maxMoney, n: maxMoney, want: 0},
		{name: "min minus min", m: minMoney, n: minMoney, want: 0},
		{name: "zero minus max", m: 0, n: maxMoney, want: -maxMoney},
		{name: "minus one minus min", m: -1, n: minMoney, want: maxMoney},
		{name: "minus max minus min", m: -maxMoney, n: minMoney, want: 1},
		{name: "min minus minus one", m: minMoney, n: -1, want: minMoney + 1},
		{name: "down to min", m: -1, n: maxMoney, want: minMoney},
		{name: "zero minus min", m: 0, n: minMoney, overflow: true},
		{name: "max minus min", m: maxMoney, n: minMoney, overflow: true},
		{name: "min minus one", m: minMoney, n: 1, overflow: true},
		{name: "max minus minus one", m: maxMoney, n: -1, overflow: true},
		{name: "min minus max", m: minMoney, n: maxMoney, overflow: true},
		{name: "minus two minus max", m: -2, n: maxMoney, overflow: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.m.Sub(tt.n)
			if tt.overflow {
				require.ErrorIs(t, err, mgmt.ErrOverflow)
				assert.Zero(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// Money(31) × 1190112520884487201 / 2 = (2⁶⁵−1)/2: the 128-bit quotient is
// 2⁶⁴−1 remainder 1, which rounds up past the top of uint64.
const wrapNum = 1190112520884487201

func TestMoneyMulDiv(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		m        mgmt.Money
		num, den int64
		want     mgmt.Money
		overflow bool
	}{
		{name: "identity", m: 1250, num: 1, den: 1, want: 1250},
		{name: "zero amount", m: 0, num: 123, den: 7, want: 0},
		{name: "zero num", m: 1250, num: 0, den: 7, want: 0},
		{name: "zero num negative amount", m: -1250, num: 0, den: 7, want: 0},
		{name: "exact", m: 1000, num: 3, den: 4, want: 750},
		{name: "exact negative amount", m: -1000, num: 3, den: 4, want: -750},
		{name: "exact negative num", m: 1000, num: -3, den: 4, want: -750},
		{name: "both negative", m: -1000, num: -3, den: 4, want: 750},

		// Rounding: half away from zero.
		{name: "below half rounds down", m: 1, num: 1, den: 3, want: 0},            // 0.333
		{name: "above half rounds up", m: 2, num: 1, den: 3, want: 1},              // 0.667
		{name: "half rounds up", m: 1, num: 1, den: 2, want: 1},                    // 0.5
		{name: "half rounds up odd", m: 5, num: 1, den: 2, want: 3},                // 2.5 (not banker's 2)
		{name: "half rounds up even", m: 3, num: 1, den: 2, want: 2},               // 1.5
		{name: "negative half away", m: -1, num: 1, den: 2, want: -1},              // -0.5
		{name: "negative half away odd", m: -5, num: 1, den: 2, want: -3},          // -2.5
		{name: "negative num half away", m: 5, num: -1, den: 2, want: -3},          // -2.5
		{name: "negative below half", m: -1, num: 1, den: 3, want: 0},              // -0.333
		{name: "negative above half", m: -2, num: 1, den: 3, want: -1},             // -0.667
		{name: "just below half", m: 49, num: 1, den: 100, want: 0},                // 0.49
		{name: "just half", m: 50, num: 1, den: 100, want: 1},                      // 0.50
		{name: "odd den no half", m: 7, num: 1, den: 5, want: 1},                   // 1.4
		{name: "odd den above half", m: 8, num: 1, den: 5, want: 2},                // 1.6
		{name: "tax 8.875%", m: 1999, num: 8875, den: 100000, want: 177},           // 177.41…
		{name: "half of a cent", m: 12345, num: 1, den: 10, want: 1235},            // 1234.5
		{name: "negative half of a cent", m: -12345, num: 1, den: 10, want: -1235}, // -1234.5

		// 128-bit intermediates.
		{name: "max times max over max", m: maxMoney, num: math.MaxInt64, den: math.MaxInt64, want: maxMoney},
		{name: "min times max over max", m: minMoney, num: math.MaxInt64, den: math.MaxInt64, want: minMoney},
		{name: "max times min over max", m: maxMoney, num: math.MinInt64, den: math.MaxInt64, want: minMoney},
		{name: "max times 3 over 4", m: maxMoney, num: 3, den: 4, want: 6917529027641081855}, // …855.25
		{name: "max times 1e18 over 1e18", m: maxMoney, num: 1e18, den: 1e18, want: maxMoney},
		{name: "price per hour times ms", m: 1_000_000_00, num: 3_600_000 * 1_000_000, den: 3_600_000, want: 100_000_000_000_000},
		{name: "max times 2 over 3", m: maxMoney, num: 2, den: 3, want: 6148914691236517205}, // …204.67
		{name: "min times 1 over 2", m: minMoney, num: 1, den: 2, want: minMoney / 2},
		{name: "min times -1 over 2", m: minMoney, num: -1, den: 2, want: -(minMoney / 2)},
		{name: "min times min over max", m: minMoney, num: math.MinInt64, den: math.MaxInt64, overflow: true},

		// Results at and beyond the edges of int64.
		{name: "min identity", m: minMoney, num: 1, den: 1, want: minMoney},
		{name: "to min", m: -(1 << 62), num: 2, den: 1, want: minMoney},
		{name: "to min by negative num", m: 1 << 62, num: -2, den: 1, want: minMoney},
		{name: "rounds to min", m: -6148914691236517205, num: 3, den: 2, want: minMoney}, // −(2⁶⁴−1)/2 = −(2⁶³−½)
		{name: "max times two", m: maxMoney, num: 2, den: 1, overflow: true},
		{name: "min negated", m: minMoney, num: -1, den: 1, overflow: true},
		{name: "to max plus one", m: 1 << 62, num: 2, den: 1, overflow: true},
		{name: "rounds up past max", m: maxMoney, num: 3, den: 2, overflow: true},
		{name: "rounds up to max plus one", m: 6148914691236517205, num: 3, den: 2, overflow: true}, // 2⁶³−½
		{name: "rounds down to max", m: maxMoney, num: 3, den: 3, want: maxMoney},
		{name: "just below max plus a half", m: 3074457345618258602, num: 3, den: 1, want: maxMoney - 1},
		{name: "quotient beyond 64 bits", m: maxMoney, num: math.MaxInt64, den: 1, overflow: true},
		{name: "quotient beyond 64 bits negative", m: minMoney, num: math.MaxInt64, den: 2, overflow: true},
		{name: "rounds past uint64", m: 31, num: wrapNum, den: 2, overflow: true},
		{name: "rounds past uint64 negative", m: -31, num: wrapNum, den: 2, overflow: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.m.MulDiv(tt.num, tt.den)
			want, fits := refMulDiv(tt.m, tt.num, tt.den)
			if tt.overflow {
				require.False(t, fits, "test case: the reference fits")
				require.ErrorIs(t, err, mgmt.ErrOverflow)
				assert.ErrorIs(t, err, mgmt.ErrInvalid)
				assert.Zero(t, got)
				return
			}
			require.True(t, fits, "test case: the reference overflows")
			require.Equal(t, want, tt.want, "test case disagrees with the reference")
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestMoneyMulDivBadDenominator(t *testing.T) {
	t.Parallel()
	for _, den := range []int64{0, -1, -100, math.MinInt64} {
		t.Run(big.NewInt(den).String(), func(t *testing.T) {
			t.Parallel()
			got, err := mgmt.Money(1250).MulDiv(3, den)
			require.Error(t, err)
			assert.Zero(t, got)
			assert.ErrorIs(t, err, mgmt.ErrInvalid)
			assert.NotErrorIs(t, err, mgmt.ErrOverflow)
			assert.Contains(t, err.Error(), "denominator")
			assert.Contains(t, err.Error(), big.NewInt(den).String())
		})
	}
}

// refMulDiv is MulDiv in arbitrary precision: m×num/den rounded half away
// from zero, and whether that fits in Money.
func refMulDiv(m mgmt.Money, num, den int64) (mgmt.Money, bool) {
	p := new(big.Int).Mul(big.NewInt(int64(m)), big.NewInt(num))
	neg := p.Sign() < 0
	p.Abs(p)
	d := big.NewInt(den)
	q, r := new(big.Int).QuoRem(p, d, new(big.Int))
	if r.Lsh(r, 1).Cmp(d) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	if neg {
		q.Neg(q)
	}
	if !q.IsInt64() {
		return 0, false
	}
	return mgmt.Money(q.Int64()), true
}

// validDollars is the grammar ParseDollars documents.
var validDollars = regexp.MustCompile(`^-?[0-9]+(\.[0-9]{1,2})?$`)

// refParseDollars parses s in arbitrary precision: the cents, whether s is
// well formed, and whether the cents fit in Money.
func refParseDollars(s string) (cents *big.Int, wellFormed, fits bool) {
	if !validDollars.MatchString(s) {
		return nil, false, false
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil, false, false
	}
	r.Mul(r, big.NewRat(100, 1))
	if !r.IsInt() {
		return nil, false, false
	}
	c := r.Num()
	return c, true, c.IsInt64()
}

func FuzzParseDollars(f *testing.F) {
	for _, s := range []string{
		"0", "-0", "10000", "12.5", "12.50", "-3.10", "0.07", "007.10",
		"92233720368547758.07", "-92233720368547758.08", "92233720368547758.08",
		"18446744073709551616", "1.234", "", "-", ".", ".5", "5.", "1e3",
		"NaN", " 1", "1,000", "+1", "--1", "1_000", "\u0661", "1.2.3",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := mgmt.ParseDollars(s)
		cents, wellFormed, fits := refParseDollars(s)
		if err != nil {
			if m != 0 {
				t.Fatalf("ParseDollars(%q) = %d with error %v", s, m, err)
			}
			if mgmt.KindOf(err) != mgmt.KindInvalid || !errors.Is(err, mgmt.ErrInvalid) {
				t.Fatalf("ParseDollars(%q): error %v is not KindInvalid", s, err)
			}
			if wellFormed && fits {
				t.Fatalf("ParseDollars(%q) rejected a valid amount of %s cents: %v", s, cents, err)
			}
			if wellFormed != errors.Is(err, mgmt.ErrOverflow) {
				t.Fatalf("ParseDollars(%q): well formed %v but ErrOverflow %v: %v", s, wellFormed, errors.Is(err, mgmt.ErrOverflow), err)
			}
			return
		}
		if !wellFormed || !fits {
			t.Fatalf("ParseDollars(%q) = %d, want an error (well formed %v, fits %v)", s, m, wellFormed, fits)
		}
		if m.Cents() != cents.Int64() {
			t.Fatalf("ParseDollars(%q) = %d cents, want %s", s, m.Cents(), cents)
		}

		str := m.String()
		if !validDollars.MatchString(str) {
			t.Fatalf("Money(%d).String() = %q is not a decimal number of dollars", m, str)
		}
		back, err := mgmt.ParseDollars(str)
		if err != nil {
			t.Fatalf("ParseDollars(%q) (from %q): %v", str, s, err)
		}
		if back != m {
			t.Fatalf("ParseDollars(%q) = %d, want %d (from %q)", str, back, m, s)
		}
		if back.String() != str {
			t.Fatalf("String is not canonical: %q then %q", str, back.String())
		}

		b, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("json.Marshal(%d): %v", m, err)
		}
		var j mgmt.Money
		if err := json.Unmarshal(b, &j); err != nil || j != m {
			t.Fatalf("JSON round trip of %d via %s = %d, %v", m, b, j, err)
		}
	})
}

func FuzzMoneyArithmetic(f *testing.F) {
	f.Add(int64(1250), int64(7), int64(3), int64(4))
	f.Add(int64(math.MaxInt64), int64(1), int64(math.MaxInt64), int64(2))
	f.Add(int64(math.MinInt64), int64(-1), int64(math.MinInt64), int64(math.MaxInt64))
	f.Add(int64(31), int64(-1), int64(wrapNum), int64(2))
	f.Add(int64(-5), int64(0), int64(1), int64(0))
	f.Fuzz(func(t *testing.T, a, b, num, den int64) {
		m, n := mgmt.Money(a), mgmt.Money(b)
		ba, bb := big.NewInt(a), big.NewInt(b)

		check := func(op string, got mgmt.Money, err error, want *big.Int) {
			t.Helper()
			if !want.IsInt64() {
				if !errors.Is(err, mgmt.ErrOverflow) || got != 0 {
					t.Fatalf("%d %s %d = %d, %v; want ErrOverflow", a, op, b, got, err)
				}
				return
			}
			if err != nil || got.Cents() != want.Int64() {
				t.Fatalf("%d %s %d = %d, %v; want %s", a, op, b, got, err, want)
			}
		}
		sum, err := m.Add(n)
		check("+", sum, err, new(big.Int).Add(ba, bb))
		diff, err := m.Sub(n)
		check("-", diff, err, new(big.Int).Sub(ba, bb))

		got, err := m.MulDiv(num, den)
		if den <= 0 {
			if err == nil || got != 0 || errors.Is(err, mgmt.ErrOverflow) || !errors.Is(err, mgmt.ErrInvalid) {
				t.Fatalf("MulDiv(%d, %d, %d) = %d, %v; want a bad-denominator error", a, num, den, got, err)
			}
			return
		}
		want, fits := refMulDiv(m, num, den)
		switch {
		case !fits && (!errors.Is(err, mgmt.ErrOverflow) || got != 0):
			t.Fatalf("MulDiv(%d, %d, %d) = %d, %v; want ErrOverflow", a, num, den, got, err)
		case fits && (err != nil || got != want):
			t.Fatalf("MulDiv(%d, %d, %d) = %d, %v; want %d", a, num, den, got, err, want)
		}
	})
}

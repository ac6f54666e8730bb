package units

import (
	"math"
	"testing"
)

func TestParseAndFormatRoundTrip(t *testing.T) {
	for _, c := range []struct {
		in   string
		nano int64
		out  string
	}{
		{"12.50", 12_500_000_000, "12.50"}, {"0.000000001", 1, "0.000000001"}, {"7", 7_000_000_000, "7.00"},
		{".5", 500_000_000, "0.50"}, {"-3.25", -3_250_000_000, "-3.25"},
	} {
		v, err := ParseMoney(c.in)
		if err != nil || v != c.nano {
			t.Fatalf("ParseMoney(%q) = %d, %v; want %d", c.in, v, err, c.nano)
		}
		if got := Money(v); got != c.out {
			t.Fatalf("Money(%d) = %q, want %q", v, got, c.out)
		}
	}
	if p, err := ParsePrice("0.095"); err != nil || p != 95000 || Price(p) != "0.095" {
		t.Fatalf("ParsePrice(0.095) = %d, %v", p, err)
	}
}

func TestParseRejectsWhatIsNotADecimal(t *testing.T) {
	for _, in := range []string{"", ".", "1.0000000001", "1e3", "abc", "1,5", "+-1", "99999999999999999999"} {
		if v, err := ParseMoney(in); err == nil {
			t.Errorf("ParseMoney(%q) = %d, want an error", in, v)
		}
	}
}

func TestCentsRoundsHalvesAwayFromZero(t *testing.T) {
	for nano, want := range map[int64]string{12_345_000_000: "12.35", 12_344_999_999: "12.34", -12_345_000_000: "-12.35",
		-4_999_999: "0.00", 5_000_000: "0.01", 0: "0.00"} {
		if got := Cents(nano); got != want {
			t.Errorf("Cents(%d) = %q, want %q", nano, got, want)
		}
	}
}

func TestMoneyPlacesTruncatesTowardZero(t *testing.T) {
	for _, c := range []struct {
		nano   int64
		places int
		want   string
	}{
		{1_234_567_890, 4, "1.2345"}, {-1_234_567_890, 4, "-1.2345"}, {-5, 4, "-0.0000"}, {7_000_000_000, 4, "7.0000"},
		{1_234_567_890, 9, "1.234567890"}, {1_999_999_999, 0, "1"}, {math.MinInt64, 2, "-9223372036.85"},
	} {
		if got := MoneyPlaces(c.nano, c.places); got != c.want {
			t.Errorf("MoneyPlaces(%d, %d) = %q, want %q", c.nano, c.places, got, c.want)
		}
	}
}

package units

import "testing"

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

package chart

import (
	"image/color"
	"math"
)

// RGB is an opaque colour as 0xRRGGBB. It implements color.Color, so the
// constants below can be given as a Series' Color.
type RGB uint32

// RGBA implements color.Color.
func (c RGB) RGBA() (r, g, b, a uint32) {
	r = uint32(c>>16&0xff) * 0x101
	g = uint32(c>>8&0xff) * 0x101
	b = uint32(c&0xff) * 0x101
	return r, g, b, 0xffff
}

// The Okabe–Ito palette, which people with any common colour-vision
// deficiency can tell apart, and a neutral grey for references such as
// a baseline.
const (
	Blue       RGB = 0x0072B2
	Orange     RGB = 0xE69F00
	Green      RGB = 0x009E73
	Vermillion RGB = 0xD55E00
	SkyBlue    RGB = 0x56B4E9
	Purple     RGB = 0xCC79A7
	Yellow     RGB = 0xF0E442
	Black      RGB = 0x000000
	Grey       RGB = 0x8C8C8C
)

// Palette returns the colours series take in turn when they name none:
// the Okabe–Ito palette, most distinct first.
func Palette() []color.Color {
	return []color.Color{Blue, Orange, Green, Vermillion, SkyBlue, Purple, Yellow, Black}
}

// The figure's own colours.
const (
	inkTitle    RGB = 0x1A1A1A
	inkText     RGB = 0x333333
	inkMuted    RGB = 0x5C5C5C
	inkGrid     RGB = 0xE3E3E3
	inkZero     RGB = 0x8C8C8C
	inkBandText RGB = 0x595959
)

// tint returns c at the given opacity (0..1).
func tint(c color.Color, opacity float64) color.Color {
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	n.A = uint8(math.Round(float64(n.A) * opacity))
	return n
}
